"""Backup and restore of one workspace: a portable, versioned archive (archive.py), written by exporting.py and
read back, verified whole before anything is written, by importing.py. The app sits above every other app (it reads
and writes all of their rows) and is imported by none."""
