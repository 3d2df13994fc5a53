"""The first pass: what can be read from a document in seconds without a language model (structure, key
terms, a clause finder), every result an exact span of the ingested text."""
