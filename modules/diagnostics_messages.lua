--- diagnostics_messages — what the REPL's incident helpers (modules/diagnostics.lua) say:
-- their help, their one line for a call they do not take, their headings and notes, in
-- English, German and French. Calls, record types, port states and names stay as they are.
local i18n = require "runbook.i18n"

return i18n.catalogue("diagnostics", {
  -- help(): what each helper shows
  help_status = {
    en = "route per site, Edge services, A and SRV on every authoritative server, 5269 from "
      .. "outside",
    de = "Route je Standort, Edge-Dienste, A und SRV auf jedem autoritativen Server, 5269 von "
      .. "außen",
    fr = "route par site, services Edge, A et SRV sur chaque serveur faisant autorité, 5269 "
      .. "depuis l’extérieur" },
  help_dig = {
    en = "a name's records (type A unless given) on each of the inventory's DNS servers",
    de = "die Einträge eines Namens (Typ A, wenn keiner genannt ist) auf jedem DNS-Server des "
      .. "Inventars",
    fr = "les enregistrements d’un nom (type A sauf mention) sur chaque serveur DNS de "
      .. "l’inventaire" },
  help_port = {
    en = "open, closed, filtered, unreachable from outside (or inside); names by the "
      .. "inventory's DNS",
    de = "open, closed, filtered, unreachable von außen (oder innen); Namen über das DNS des "
      .. "Inventars",
    fr = "open, closed, filtered, unreachable depuis l’extérieur (ou l’intérieur) ; noms par "
      .. "le DNS de l’inventaire" },
  help_probe = {
    en = "the XMPP server-to-server probe, stage by stage (docs/verification.md)",
    de = "die XMPP-Prüfung von Server zu Server, Stufe für Stufe (docs/verification.md)",
    fr = "la sonde XMPP de serveur à serveur, étape par étape (docs/verification.md)" },
  help_ps = {
    en = "a PowerShell expression (a read) on a server of the inventory, as Lua tables",
    de = "ein PowerShell-Ausdruck (ein Lesen) auf einem Server des Inventars, als Lua-Tabellen",
    fr = "une expression PowerShell (une lecture) sur un serveur de l’inventaire, en tables "
      .. "Lua" },

  -- a call a helper does not take: "usage: expected …, got … — e.g. example"
  usage = {
    en = "%s: expected %s, got %s — e.g. %s",
    de = "%s: erwartet %s, erhalten %s — z. B. %s",
    fr = "%s : attendu %s, reçu %s — p. ex. %s" },
  nothing = { en = "nothing", de = "nichts", fr = "rien" },
  a_name = { en = "a name", de = "einen Namen", fr = "un nom" },
  a_record_type = {
    en = "a record type such as A, AAAA, SRV, NS, SOA or TXT",
    de = "einen Eintragstyp wie A, AAAA, SRV, NS, SOA oder TXT",
    fr = "un type d’enregistrement comme A, AAAA, SRV, NS, SOA ou TXT" },
  a_host = {
    en = "a host name or address", de = "einen Hostnamen oder eine Adresse",
    fr = "un nom d’hôte ou une adresse" },
  a_port = {
    en = "a port number (1-65535) after the host",
    de = "eine Portnummer (1-65535) nach dem Host",
    fr = "un numéro de port (1-65535) après l’hôte" },
  a_from = {
    en = '{from = "inside"} or {from = "vantage"} as the third argument',
    de = '{from = "inside"} oder {from = "vantage"} als drittes Argument',
    fr = '{from = "inside"} ou {from = "vantage"} en troisième argument' },
  a_domain = { en = "a domain", de = "eine Domäne", fr = "un domaine" },
  a_server = {
    en = "a server of the inventory", de = "einen Server des Inventars",
    fr = "un serveur de l’inventaire" },
  an_expression = {
    en = "a PowerShell expression after the server",
    de = "einen PowerShell-Ausdruck nach dem Server",
    fr = "une expression PowerShell après le serveur" },

  -- what the helpers print
  route_heading = {
    en = "XMPP federation route (-%s)", de = "Route der XMPP-Verbundfunktion (-%s)",
    fr = "Itinéraire de fédération XMPP (-%s)" },
  no_route = { en = "(no route)", de = "(keine Route)", fr = "(pas de route)" },
  services_heading = { en = "Edge services", de = "Edge-Dienste", fr = "Services Edge" },
  not_in_inventory = {
    en = "not in the inventory's servers: add it with address = (its name would be resolved "
      .. "by this machine's resolver)",
    de = "nicht unter den Servern des Inventars: mit address = eintragen (sonst löste der "
      .. "Resolver dieses Rechners den Namen auf)",
    fr = "absent des serveurs de l’inventaire : ajoutez-le avec address = (sinon le résolveur "
      .. "de cette machine résoudrait son nom)" },
  ports_heading = { en = "Port 5269 from %s", de = "Port 5269 von %s", fr = "Port 5269 depuis %s" },
  port_from = { en = "%s:%d from %s: %s", de = "%s:%d von %s: %s", fr = "%s:%d depuis %s : %s" },
  inside = { en = "inside", de = "innen", fr = "l’intérieur" },
  dns_error = { en = "error: %s", de = "Fehler: %s", fr = "erreur : %s" },
  resolver = { en = "resolver %s", de = "Resolver %s", fr = "résolveur %s" },
  system_resolver = {
    en = "this machine's resolver", de = "der Resolver dieses Rechners",
    fr = "le résolveur de cette machine" },
  no_dns_server = {
    en = "the inventory names no DNS server to ask: set dns.authoritative, dns.server or "
      .. "dns.resolver (this machine's resolver only with dns.system_resolver = true)",
    de = "das Inventar nennt keinen DNS-Server, den runbook fragen kann: dns.authoritative, "
      .. "dns.server oder dns.resolver setzen (den Resolver dieses Rechners nur mit "
      .. "dns.system_resolver = true)",
    fr = "l’inventaire ne nomme aucun serveur DNS à interroger : définissez "
      .. "dns.authoritative, dns.server ou dns.resolver (le résolveur de cette machine "
      .. "seulement avec dns.system_resolver = true)" },
  no_a_record = {
    en = "%s: no A record from the inventory's DNS servers (%s)",
    de = "%s: kein A-Eintrag von den DNS-Servern des Inventars (%s)",
    fr = "%s : aucun enregistrement A auprès des serveurs DNS de l’inventaire (%s)" },
  no_answer = { en = "no answer", de = "keine Antwort", fr = "pas de réponse" },
})
