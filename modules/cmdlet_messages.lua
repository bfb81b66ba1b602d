--- cmdlet_messages — how a cmdlet's failure is said (modules/cmdlet.lua), in English, German
-- and French. What Windows answered is quoted as it came (i18n.verbatim): Microsoft's own
-- message and its category (PermissionDenied, ObjectNotFound) are what the operator looks up.
local i18n = require "runbook.i18n"

return i18n.catalogue("cmdlet", {
  could_not_run = { en = "[cmdlet] could not run %s on %s: %s (%s)",
    de = "[cmdlet] %s konnte auf %s nicht ausgeführt werden: %s (%s)",
    fr = "[cmdlet] impossible d’exécuter %s sur %s : %s (%s)" },
  failed = { en = "[cmdlet] %s on %s failed: %s (%s)",
    de = "[cmdlet] %s auf %s fehlgeschlagen: %s (%s)",
    fr = "[cmdlet] échec de %s sur %s : %s (%s)" },
})
