--- capabilities_messages — what preflight says of each capability it proves (modules/
-- capabilities.lua), in English, German and French. Beside the module that says it: the
-- engine knows no capability. Cmdlet names, hosts and transports stay as they are.
local i18n = require "runbook.i18n"

return i18n.catalogue("capabilities", {
  logged_in = { en = "%s: logged in (%s); %s present", de = "%s: angemeldet (%s); %s vorhanden",
    fr = "%s : connecté (%s) ; %s présent(s)" },
  cannot_log_in = { en = "cannot log in to %s: %s (%s)",
    de = "Anmeldung an %s nicht möglich: %s (%s)", fr = "connexion à %s impossible : %s (%s)" },
  lacks_cmdlet = {
    en = "%s lacks a cmdlet the run needs: %s — is the Lync Server Management Shell module "
      .. "installed there?",
    de = "%s fehlt ein Cmdlet, das der Lauf braucht: %s — ist dort das Modul der Lync "
      .. "Server-Verwaltungsshell installiert?",
    fr = "il manque à %s une cmdlet nécessaire : %s — le module Lync Server Management Shell "
      .. "y est-il installé ?" },
  has_no_cmdlets = {
    en = "%s has no %s: is the Lync Server Management Shell module installed there?",
    de = "%s hat kein %s: ist dort das Modul der Lync Server-Verwaltungsshell installiert?",
    fr = "%s n’a pas %s : le module Lync Server Management Shell y est-il installé ?" },
  no_prove = {
    en = "the DNS provider %s cannot prove its credentials before a change: give it a prove() "
      .. "(docs/dns-providers.md)",
    de = "der DNS-Anbieter %s kann seine Zugangsdaten nicht vor einer Änderung prüfen: geben "
      .. "Sie ihm ein prove() (docs/dns-providers.md)",
    fr = "le fournisseur DNS %s ne peut pas prouver ses identifiants avant une modification : "
      .. "donnez-lui un prove() (docs/dns-providers.md)" },
  no_lease = { en = "no lease across machines (manual DNS)",
    de = "keine maschinenübergreifende Sperre (manuelles DNS)",
    fr = "pas de bail entre machines (DNS manuel)" },
  lease_held = { en = "another run holds the estate's lease: %s",
    de = "eine andere Ausführung hält die Sperre der Umgebung: %s",
    fr = "une autre exécution détient le bail de l’environnement : %s" },
  lease_free = { en = "no other run holds the estate's lease",
    de = "keine andere Ausführung hält die Sperre der Umgebung",
    fr = "aucune autre exécution ne détient le bail de l’environnement" },
  connects_out = { en = "%s can connect out (%s:%d now %s)",
    de = "Verbindung nach außen von %s aus möglich (%s:%d jetzt %s)",
    fr = "connexion sortante possible depuis %s (%s:%d actuellement %s)" },
})
