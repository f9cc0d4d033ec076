"""The AppSync direct Lambda resolver: one Powertools Router per domain, merged in `app`."""
