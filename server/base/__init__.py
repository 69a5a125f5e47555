"""What every layer may use: settings, metrics, credentials hashing, bounded database
waits, rate limits, log redaction, the collector policy. Imports nothing else of server/."""
