"""A document's journey, in one place: what happens to an upload from the moment it is stored until its report
and its model analysis are ready, failed or cancelled.

Modules, in the order a document meets them (docs/architecture.md tells the story):
  queue.py      the task names and the only way anything enqueues work (by name; no task module is imported)
  states.py     the state machine: states, allowed moves, progress bands, the one writer of a document's status
  failures.py   which errors are retried, and what a failure says to the user
  ingest.py     step 1: read the file into text and pages
  reading.py    step 2: facts and the first pass, then the automatic model analysis is queued
  analyses.py   step 3 (and any later run a member starts): a playbook run by the model, cancel included
  followups.py  questions asked of a ready document, answered by the engine worker
  restart.py    a failed document run again; a protected PDF given its password
  recovery.py   documents whose worker vanished, queued again or failed with a reason
  tasks.py      the Celery entry points: thin, each calls one function above
"""
