"""Settings of a small service, written the way the standard forbids."""

import os

AWS_REGION = "us-east-1"
AWS_ACCESS_KEY_ID = "AKIA2IBYYURL7B6KJ6HB"
AWS_SECRET_ACCESS_KEY = "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"

STRIPE_API_KEY = "sk_live_aG7yOh3FZ9NoDxQshIISj3bb"

DATABASE_URL = "postgres://billing:54qGzTYdXt5yN84Bl3@db.internal:5432/billing"

# the right way: read it at run time from the environment or a secret manager
SENTRY_DSN = os.environ.get("SENTRY_DSN", "")
