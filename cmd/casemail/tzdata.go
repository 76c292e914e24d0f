package main

// The time zone database is embedded (about 450 kB) so that timezone: and
// calendars work where the system has none: the static binary in a
// FROM scratch image, or a minimal root.
import _ "time/tzdata"
