"""The vocabulary: the national format of the annual report as data, at the ground floor.

- ``keys``: the canonical keys (sections, Table 二/三/四 rows and columns per template);
- ``template``: every printed Chinese label of the tables and sections and their variants, Table 二's
  blocks, the names the checks' messages use, and the patterns page metadata is read by;
- ``phrases``: the phrasings the text checks read.

Parsing, storage (the `labels` table, the Datasette report page), the monitor's messages and the
demo import it; it imports nothing of ours.
"""
