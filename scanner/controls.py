"""Compliance controls the checks evidence, named once.

The catalogue belongs to the engine: the backend plugin (SA200) and every
check cite it, and the engine imports no check (pyproject.toml [tool.importlinter])."""

PCI_8_6_2 = "PCI DSS v4 8.6.2"
NIST_IA_5_7 = "NIST 800-53 IA-5(7)"
NIST_IA_5 = "NIST 800-53 IA-5"
SOC2_CC6_1 = "SOC 2 CC6.1"
ISO_A_5_17 = "ISO 27001:2022 A.5.17"

#: Controls evidenced by every "no hardcoded credentials" check (SA1xx).
HARDCODED_CREDENTIALS = (PCI_8_6_2, NIST_IA_5_7)

# -- secret lifecycle (SA2xx) and config hygiene (SA5xx) -----------------------------------
PCI_8_3_9 = "PCI DSS v4 8.3.9"        # authenticators changed at least every 90 days
PCI_8_6_3 = "PCI DSS v4 8.6.3"        # system/application account secrets changed periodically
PCI_8_2_6 = "PCI DSS v4 8.2.6"        # inactive accounts removed or disabled within 90 days
PCI_4_2_1 = "PCI DSS v4 4.2.1"        # strong cryptography for data in transit
NIST_IA_5_1 = "NIST 800-53 IA-5(1)"
NIST_AC_2_3 = "NIST 800-53 AC-2(3)"   # disable accounts (unused credentials)
NIST_AC_6 = "NIST 800-53 AC-6"
NIST_SC_8 = "NIST 800-53 SC-8"        # transmission confidentiality and integrity
CIS_AWS_1_12 = "CIS AWS Foundations 1.12"  # credentials unused for 45 days or more are disabled
CIS_AWS_1_14 = "CIS AWS Foundations 1.14"  # access keys rotated every 90 days or less
ISO_A_5_9 = "ISO 27001:2022 A.5.9"    # inventory of assets, with owners
ISO_A_8_24 = "ISO 27001:2022 A.8.24"  # use of cryptography (key lifecycle)

# -- least privilege (SA3xx) ------------------------------------------------------------------
CIS_AWS_1_13 = "CIS AWS Foundations 1.13"  # only one active access key per IAM user
CIS_AWS_1_16 = "CIS AWS Foundations 1.16"  # no IAM policies granting full "*:*" administrative privileges
PCI_7_2_1 = "PCI DSS v4 7.2.1"        # access assigned by least privilege, per job function
PCI_7_2_2 = "PCI DSS v4 7.2.2"        # privileges limited to what the job needs

#: The frameworks the controls above belong to, as their names begin (reports show a pass rate per framework).
FRAMEWORKS = ("PCI DSS v4", "NIST 800-53", "SOC 2", "ISO 27001:2022", "CIS AWS Foundations")


def framework(control: str) -> str:
    """The framework a control belongs to: a known prefix, else the name without its last word
    (a third-party check's ``"HIPAA 164.312(d)"`` -> ``"HIPAA"``)."""
    known = next((name for name in FRAMEWORKS if control.startswith(name + " ")), None)
    return known or control.rsplit(" ", 1)[0]
