--- dns.messages — what the DNS providers (modules/dns/*.lua) tell the operator when preflight
-- proves them and when the simulated one refuses, in English, German and French. Beside the
-- providers: the engine knows none of them. Zone names, servers, keys and principals stay
-- as they are; a server's own answer (an RCODE) is a provider's failure cause, not a word.
local i18n = require "runbook.i18n"

return i18n.catalogue("dns", {
  sim_accepts = { en = "zone %s accepts updates (simulated)",
    de = "Zone %s nimmt Änderungen an (simuliert)",
    fr = "la zone %s accepte les mises à jour (simulé)" },
  sim_refuses = { en = "[dns.sim] zone %s refuses updates (injected fault)",
    de = "[dns.sim] Zone %s lehnt Änderungen ab (eingespeister Fehler)",
    fr = "[dns.sim] la zone %s refuse les mises à jour (panne injectée)" },
  sim_refused = { en = "[dns.sim] update of zone %s refused (injected fault)",
    de = "[dns.sim] Änderung der Zone %s abgelehnt (eingespeister Fehler)",
    fr = "[dns.sim] mise à jour de la zone %s refusée (panne injectée)" },
  rfc2136_accepts = {
    en = "%s accepts %s for zone %s (an update with prerequisites only; the update-policy for "
      .. "the names is not proven)",
    de = "%s nimmt %s für die Zone %s an (eine Änderung nur mit Vorbedingungen; die "
      .. "update-policy für die Namen ist nicht nachgewiesen)",
    fr = "%s accepte %s pour la zone %s (une mise à jour avec seulement des prérequis ; "
      .. "l’update-policy des noms n’est pas prouvée)" },
  tsig_key = { en = "the TSIG key %s", de = "den TSIG-Schlüssel %s", fr = "la clé TSIG %s" },
  unsigned = { en = "unsigned updates", de = "unsignierte Änderungen",
    fr = "les mises à jour non signées" },
  gss_tsig = { en = "GSS-TSIG as %s", de = "GSS-TSIG als %s", fr = "GSS-TSIG en tant que %s" },
  ccache_principal = { en = "the ccache's principal", de = "den Principal des ccache",
    fr = "le principal du ccache" },
  powerdns_answers = {
    en = "%s answers for zone %s with this API key (write permission not proven)",
    de = "%s antwortet für die Zone %s mit diesem API-Schlüssel (Schreibrecht nicht "
      .. "nachgewiesen)",
    fr = "%s répond pour la zone %s avec cette clé d’API (droit d’écriture non prouvé)" },
  windows_answers = { en = "%s answers for zone %s (write permission not proven)",
    de = "%s antwortet für die Zone %s (Schreibrecht nicht nachgewiesen)",
    fr = "%s répond pour la zone %s (droit d’écriture non prouvé)" },
})
