"""Everything that reads or writes Word XML.

``xml`` holds the namespaces and the one parser set-up; ``marks`` how an exception's regions are
marked; ``charts`` the native chart parts and ``ids`` the numbering they share with the rest of a
package; ``harvest`` the read-back of edited regions; ``checks`` the draft checks publish runs.
Nothing here is imported by ``kpiflow --help``: lxml and python-docx are imported inside the
functions that use them.
"""
