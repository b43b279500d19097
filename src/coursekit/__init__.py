"""coursekit: the toolkit of the course "Reading the Source - KFOR in numbers".

Two packages in one distribution. The student toolkit, which students receive:
`seeds` (find and verify the course data), `charts` (read a matplotlib Axes back as
data), `claims` (score a claims table), `notebooks` (the notebook normal form) and
`errors`. The instructor's grader, `coursekit.grader`, which they never receive
(`coursekit bundle` leaves it out). The toolkit never imports the grader.
"""

__version__ = "0.1.0"
