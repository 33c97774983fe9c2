"""Everything that reads or writes Word XML.

``xml`` holds the namespaces and the one parser set-up; ``render`` the pieces the report puts
into the template (blocks, marked regions, chart placement, drawing numbering); ``charts`` the
native chart parts; ``ids`` the numbers unique in a package (part names, drawing and bookmark
ids), given out after the template's own; ``marks`` how an exception's regions are marked;
``harvest`` the read-back of edited regions, in one pass over a part; ``checks`` the draft checks
publish runs; ``package`` a draft opened with its sizes checked before anything is inflated, and
what in it must never be published (macros, outside links, command fields); ``props`` custom
document properties.
Nothing here is imported by ``kpiflow --help``: lxml, python-docx and docxtpl are imported inside
the functions that use them.
"""
