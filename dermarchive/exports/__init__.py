"""What leaves the archive as documents and copies: the referral PDF, de-identified sets and the
patient's own copy (each asks the consent policy first)."""
