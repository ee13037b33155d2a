"""Compliance controls the built-in checks evidence, named once."""

PCI_8_6_2 = "PCI DSS v4 8.6.2"
NIST_IA_5_7 = "NIST 800-53 IA-5(7)"
NIST_IA_5 = "NIST 800-53 IA-5"
SOC2_CC6_1 = "SOC 2 CC6.1"
ISO_A_5_17 = "ISO 27001:2022 A.5.17"

#: Controls evidenced by every "no hardcoded credentials" check (SA1xx).
HARDCODED_CREDENTIALS = (PCI_8_6_2, NIST_IA_5_7)
