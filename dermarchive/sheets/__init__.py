"""Photo consent sheets (issue 18): print a patient's consent form with a code, and read it back
from a phone photo to sort a clinic day's photos by patient and propose the consent it records.

Qt-free. ``payload`` (the code and its MAC), ``layout`` (where things are on the page), ``pdf``
(printing), ``read`` (finding and reading a sheet in a photo), ``issue`` (printing for a patient
of an archive: serial and audit).
"""
