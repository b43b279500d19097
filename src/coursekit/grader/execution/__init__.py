"""How student code is run: SafeExecute (nbgrader's Execute made safe), the guard it
installs in every kernel, and the static tamper scan. Independent of isolation: with the
sandbox off, all of this still runs."""
