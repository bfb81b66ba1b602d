--- estate_messages — the estate's words (modules/estate.lua) in English, German and French:
-- the point port checks start from, said inside other messages. German takes it in the
-- dative ("von … aus", "von …"), as every message that names it does.
local i18n = require "runbook.i18n"

return i18n.catalogue("estate", {
  simulated_internet = { en = "the simulated Internet", de = "dem simulierten Internet",
    fr = "l’Internet simulé" },
  vantage_host = { en = "vantage host %s", de = "dem Vantage-Host %s",
    fr = "l’hôte d’observation %s" },
  this_host = { en = "this host (no vantage host configured: not outside the perimeter)",
    de = "diesem Host (kein Vantage-Host konfiguriert: nicht außerhalb des Perimeters)",
    fr = "cet hôte (aucun hôte d’observation configuré : pas hors du périmètre)" },
})
