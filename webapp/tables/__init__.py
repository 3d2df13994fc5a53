"""The workspace table: every document of a workspace down the side, a playbook's items across the top, and in
each cell the model's answer with its risk and quotes (or, where no model has read the document, the first pass's
best passage); batch runs of a playbook over many documents; spreadsheet exports. Views over the same findings and
first-pass spans the report page reads, never a second copy of them."""
