"""Everything that leaves the archive: patient copy, de-identified sets, referral PDF, backup."""
