"""coursekit: the toolkit of the course "Reading the Source - KFOR in numbers".

One concern per module: `seeds` (find and verify the course data), `notebooks`
(notebook hygiene), `grading` (the instructor pipeline around nbgrader) and `cli`
(the command line over the keyword-only API).
"""

__version__ = "0.1.0"
