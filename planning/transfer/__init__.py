"""Export one event with everything it needs to a JSON-ready dict, and import it back.

The export is self-contained and uses natural keys instead of database ids: recipes,
finished goods and packages by their unique names, users by username, recipients (not
unique) by a reference local to the file and a stable key. Importing into an empty
database recreates the event unchanged; importing into a database that already has some
of the catalog reuses identical rows and refuses, listing every difference, when a row of
the same name differs.
Bookkeeping columns (created_at, updated_at) are not part of the export.

Same contract as the services: keyword-only `connection`, the caller owns the transaction,
everything is validated before the first write.

mapping.py  what each entity carries and how it is found in another database
reading.py  this product's file format, read and checked into a Document
alike.py  recipients with all the same fields: their stable keys, and files without them
importing.py  plan (resolve keys, list conflicts, write nothing), then write
exporting.py  the event and what it names, as a dict in the same format
matching.py  the plan for each event of a file: what is already here, what is new
report.py  what an import does (or a dry run would do), per entity
baketracker*.py  a season from a bake-tracker full export, through the same steps
"""

from planning.transfer.baketracker import import_baketracker
from planning.transfer.exporting import export_event
from planning.transfer.importing import (
    CATALOG_DIFFERS,
    CONFLICTS,
    EVENT_EXISTS,
    ImportConflict,
    ImportResult,
    import_event,
)
from planning.transfer.mapping import FORMAT, VERSION

__all__ = [
    "CATALOG_DIFFERS",
    "CONFLICTS",
    "EVENT_EXISTS",
    "FORMAT",
    "VERSION",
    "ImportConflict",
    "ImportResult",
    "export_event",
    "import_baketracker",
    "import_event",
]
