"""Proof that a backup boots: the checks a verify-only recovery (and so a drill) runs after
the power-on, their evidence rows, and the report built from them (docs/drills.md)."""
