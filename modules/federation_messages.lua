--- federation_messages — what the XMPP federation module and runbooks tell the operator
-- (evidence, notes, gaps, errors), in English, German and French. Beside federation.lua
-- rather than in runbook.i18n: the engine knows no product, and the words change with the
-- module that says them. Technical names stay as they are in every language: cmdlets and
-- their parameters, service names and statuses (Running, Stopped), FQDNs, record data.
-- German and French follow Microsoft's localized Lync documentation: Edgepool, Edgeserver,
-- XMPP-Partnerverbund, zentraler Verwaltungsspeicher; pool de serveurs Edge, fédération
-- XMPP, magasin central de gestion, itinéraire.
local i18n = require "runbook.i18n"

return i18n.catalogue("federation", {
  -- notes while the steps run
  parameter_used = { en = "Set-CsSite used -%s (the parameter this server has)",
    de = "Set-CsSite hat -%s verwendet (den Parameter, den dieser Server kennt)",
    fr = "Set-CsSite a utilisé -%s (le paramètre que ce serveur connaît)" },
  route_unknown = { en = "the route before this run was not journaled: left as it is",
    de = "die Route vor diesem Lauf steht nicht im Journal: sie bleibt, wie sie ist",
    fr = "l’itinéraire d’avant cette exécution n’est pas journalisé : il reste tel quel" },
  undoing = { en = "undoing the failover of %s", de = "macht den Failover aus %s rückgängig",
    fr = "annule le basculement de %s" },
  no_journal = {
    en = "no journal of a successful move to %s (%s): the records get the original pool's "
      .. "values and the other site's route stays; --set undo_journal=PATH names one",
    de = "kein Journal eines erfolgreichen Wechsels zu %s (%s): die Einträge erhalten die Werte "
      .. "des ursprünglichen Pools, die Route des anderen Standorts bleibt; --set "
      .. "undo_journal=PFAD nennt eines",
    fr = "aucun journal d’un basculement réussi vers %s (%s) : les enregistrements reçoivent "
      .. "les valeurs du pool d’origine et l’itinéraire de l’autre site reste ; --set "
      .. "undo_journal=CHEMIN en désigne un" },
  serves = { en = "%s serves the new %s %s%s", de = "%s liefert den neuen %s-Eintrag %s%s",
    fr = "%s sert le nouvel enregistrement %s %s%s" },
  serial = { en = " (serial %s)", de = " (Seriennummer %s)", fr = " (numéro de série %s)" },
  old_absent = {
    en = "resolvers may still answer that %s has no %s record for up to %d s more",
    de = "Resolver können für %s noch melden, dass kein %s-Eintrag existiert (bis zu %d s lang)",
    fr = "des résolveurs peuvent encore répondre que %s n’a pas d’enregistrement %s (jusqu’à "
      .. "%d s)" },
  old_ttl = { en = "resolvers may hand out the old %s %s for up to %d s more",
    de = "Resolver können den alten %s-Eintrag %s noch bis zu %d s lang ausliefern",
    fr = "des résolveurs peuvent encore servir l’ancien enregistrement %s %s pendant %d s" },
  exported = {
    en = "configuration exported to %s on %s (Import-CsConfiguration -FileName restores it); "
      .. "a later Topology Builder publish may overwrite the route set here",
    de = "Konfiguration nach %s auf %s exportiert (Import-CsConfiguration -FileName stellt sie "
      .. "wieder her); eine spätere Veröffentlichung im Topologie-Generator kann die hier "
      .. "gesetzte Route überschreiben",
    fr = "configuration exportée vers %s sur %s (Import-CsConfiguration -FileName la "
      .. "restaure) ; une publication ultérieure par le Générateur de topologie peut écraser "
      .. "l’itinéraire défini ici" },
  not_exported = {
    en = "the configuration was not exported: the inventory names no management_export "
      .. "directory",
    de = "die Konfiguration wurde nicht exportiert: das Inventar nennt kein Verzeichnis "
      .. "management_export",
    fr = "la configuration n’a pas été exportée : l’inventaire ne désigne aucun répertoire "
      .. "management_export" },
  export_plan = { en = "Export-CsConfiguration -FileName %s, then ",
    de = "Export-CsConfiguration -FileName %s, danach ",
    fr = "Export-CsConfiguration -FileName %s, puis " },
  no_export_plan = {
    en = "(no management_export in the inventory: the configuration is not exported) ",
    de = "(kein management_export im Inventar: die Konfiguration wird nicht exportiert) ",
    fr = "(pas de management_export dans l’inventaire : la configuration n’est pas exportée) " },

  -- evidence: what a check saw, what it wants
  none = { en = "(none)", de = "(keine)", fr = "(aucun)" },
  as_before = { en = " (as before the failover)", de = " (wie vor dem Failover)",
    fr = " (comme avant le basculement)" },
  all_in = { en = "all %s", de = "alle im Status %s", fr = "tous à l’état %s" },
  no_services = { en = "no services", de = "keine Dienste", fr = "aucun service" },
  mode = { en = "mode %s", de = "Modus %s", fr = "mode %s" },
  excluded = { en = "; excluded for this run: %s", de = "; in diesem Lauf ausgenommen: %s",
    fr = " ; exclus de cette exécution : %s" },
  dead_pool = {
    en = "mode dead-pool: the old pool failed and is not asked; --set mode=planned stops its "
      .. "XMPP proxy first",
    de = "Modus dead-pool: der alte Pool ist ausgefallen und wird nicht abgefragt; --set "
      .. "mode=planned beendet zuerst seinen XMPP-Proxy",
    fr = "mode dead-pool : l’ancien pool est en panne et n’est pas interrogé ; --set "
      .. "mode=planned arrête d’abord son proxy XMPP" },
  old_proxy_stopped = { en = "the old pool's XMPP proxy %s (mode planned)",
    de = "der XMPP-Proxy des alten Pools im Status %s (Modus planned)",
    fr = "le proxy XMPP de l’ancien pool à l’état %s (mode planned)" },
  srv_differs = { en = "%s: %s instead of %s (priority or weight differs)",
    de = "%s: %s statt %s (Priorität oder Gewichtung weicht ab)",
    fr = "%s : %s au lieu de %s (la priorité ou le poids diffère)" },
  srv_missing = { en = "%s has no SRV record %s", de = "%s hat keinen SRV-Eintrag %s",
    fr = "%s n’a pas d’enregistrement SRV %s" },
  route_not_set = { en = "route not set yet", de = "Route noch nicht gesetzt",
    fr = "itinéraire pas encore défini" },
  edges_up_to_date = { en = "Edge servers up to date", de = "Edgeserver auf dem neuesten Stand",
    fr = "serveurs Edge à jour" },
  up_to_date = { en = "up to date", de = "auf dem neuesten Stand", fr = "à jour" },
  behind = { en = "behind: %s", de = "im Rückstand: %s", fr = "en retard : %s" },
  port_from = { en = "%s:%d from %s: %s", de = "%s:%d von %s aus: %s",
    fr = "%s:%d depuis %s : %s" },
  closed_passes = {
    en = " (the firewall lets it through; nothing answers until the Edge services start)",
    de = " (die Firewall lässt die Verbindung durch; es antwortet niemand, bis die "
      .. "Edge-Dienste gestartet sind)",
    fr = " (le pare-feu laisse passer ; personne ne répond avant le démarrage des services "
      .. "Edge)" },
  open_while_stopped = {
    en = " (although the new pool's services are stopped: something else answers on this "
      .. "address — check that the NAT rule leads to the new pool's Access Edge)",
    de = " (obwohl die Dienste des neuen Pools beendet sind: etwas anderes antwortet unter "
      .. "dieser Adresse — prüfen Sie, ob die NAT-Regel zum Access-Edge des neuen Pools führt)",
    fr = " (alors que les services du nouveau pool sont arrêtés : autre chose répond à cette "
      .. "adresse — vérifiez que la règle NAT mène à l’Access Edge du nouveau pool)" },
  state_unknown = {
    en = " (%s's SSH server says only that the connect failed, not whether a RST or an ICMP "
      .. "rejection ended it: set allow_commands = true for the vantage host so runbook can "
      .. "ask it)",
    de = " (der SSH-Server von %s meldet nur, dass der Verbindungsaufbau scheiterte, nicht ob "
      .. "ein RST oder eine ICMP-Ablehnung ihn beendete: allow_commands = true für den "
      .. "Vantage-Host setzen, damit runbook ihn fragen kann)",
    fr = " (le serveur SSH de %s dit seulement que la connexion a échoué, pas si un RST ou un "
      .. "rejet ICMP l’a terminée : mettez allow_commands = true pour l’hôte d’observation "
      .. "afin que runbook puisse l’interroger)" },
  state_unreachable = {
    en = " (no route from %s: check public_ip in the inventory and the vantage host's network)",
    de = " (keine Route von %s: public_ip im Inventar und das Netz des Vantage-Hosts prüfen)",
    fr = " (aucune route depuis %s : vérifiez public_ip dans l’inventaire et le réseau de "
      .. "l’hôte d’observation)" },
  stage_failed = { en = "stage %s failed: %s", de = "Stufe %s fehlgeschlagen: %s",
    fr = "l’étape %s a échoué : %s" },
  answers_elsewhere = { en = "federation answers, but not on the new pool: %s",
    de = "der Verbund antwortet, aber nicht auf dem neuen Pool: %s",
    fr = "la fédération répond, mais pas sur le nouveau pool : %s" },
  answers = { en = "federation answers: %s → %s", de = "der Verbund antwortet: %s → %s",
    fr = "la fédération répond : %s → %s" },
  other_site = {
    en = "; %s still routes XMPP to %s, the pool we leave (the procedure sets only %s: "
      .. "Set-CsSite -Identity %s -%s … moves it too)",
    de = "; %s leitet XMPP noch an %s, den Pool, den wir verlassen (die Anleitung setzt nur "
      .. "%s: Set-CsSite -Identity %s -%s … verlegt ihn auch)",
    fr = " ; %s achemine encore XMPP vers %s, le pool que nous quittons (la procédure ne "
      .. "définit que %s : Set-CsSite -Identity %s -%s … le déplace aussi)" },
  other_sites = {
    en = "; %s still route XMPP to %s, the pool we leave (the procedure sets only %s: "
      .. "Set-CsSite -Identity %s -%s … moves them too)",
    de = "; %s leiten XMPP noch an %s, den Pool, den wir verlassen (die Anleitung setzt nur "
      .. "%s: Set-CsSite -Identity %s -%s … verlegt sie auch)",
    fr = " ; %s acheminent encore XMPP vers %s, le pool que nous quittons (la procédure ne "
      .. "définit que %s : Set-CsSite -Identity %s -%s … les déplace aussi)" },

  -- prerequisites and the CMS master
  partners = { en = "partners: %s", de = "Partner: %s", fr = "partenaires : %s" },
  no_partner = {
    en = "Get-CsXmppAllowedPartner lists no partner: no XMPP partner may federate "
      .. "(New-CsXmppAllowedPartner adds one)",
    de = "Get-CsXmppAllowedPartner nennt keinen Partner: kein XMPP-Partner darf sich verbinden "
      .. "(New-CsXmppAllowedPartner fügt einen hinzu)",
    fr = "Get-CsXmppAllowedPartner ne liste aucun partenaire : aucun partenaire XMPP ne peut se "
      .. "fédérer (New-CsXmppAllowedPartner en ajoute un)" },
  federation_off = {
    en = "Get-CsAccessEdgeConfiguration: AllowFederatedUsers is False, and XMPP federation "
      .. "needs it",
    de = "Get-CsAccessEdgeConfiguration: AllowFederatedUsers ist False, der XMPP-Partnerverbund "
      .. "braucht True",
    fr = "Get-CsAccessEdgeConfiguration : AllowFederatedUsers vaut False, et la fédération XMPP "
      .. "en a besoin" },
  version_unknown = { en = "%s: its version is unknown (Get-CsServerVersion: %s)",
    de = "%s: Version unbekannt (Get-CsServerVersion: %s)",
    fr = "%s : version inconnue (Get-CsServerVersion : %s)" },
  no_xmpp_in_version = { en = "%s runs %s, which has no XMPP federation: it cannot host it",
    de = "auf %s läuft %s, das keinen XMPP-Partnerverbund kennt: er kann ihn nicht hosten",
    fr = "%s exécute %s, qui n’a pas de fédération XMPP : il ne peut pas l’héberger" },
  no_certificate = { en = "%s has no AccessEdgeExternal certificate (Get-CsCertificate)",
    de = "%s hat kein AccessEdgeExternal-Zertifikat (Get-CsCertificate)",
    fr = "%s n’a pas de certificat AccessEdgeExternal (Get-CsCertificate)" },
  certificate_lacks_name = {
    en = "%s: the Access Edge certificate %s does not name %s, which partners ask for",
    de = "%s: das Access-Edge-Zertifikat %s nennt %s nicht, das die Partner anfragen",
    fr = "%s : le certificat Access Edge %s ne nomme pas %s, que les partenaires demandent" },
  certificate_expired = { en = "%s: the Access Edge certificate %s has expired",
    de = "%s: das Access-Edge-Zertifikat %s ist abgelaufen",
    fr = "%s : le certificat Access Edge %s a expiré" },
  certificate_expires = { en = "%s: the Access Edge certificate %s expires in %d days (under %d)",
    de = "%s: das Access-Edge-Zertifikat %s läuft in %d Tagen ab (weniger als %d)",
    fr = "%s : le certificat Access Edge %s expire dans %d jours (moins de %d)" },
  certificate_no_date = { en = "%s: the Access Edge certificate %s expires at an unknown date",
    de = "%s: das Ablaufdatum des Access-Edge-Zertifikats %s ist unbekannt",
    fr = "%s : la date d’expiration du certificat Access Edge %s est inconnue" },
  declared_differs = {
    en = "the inventory lists %s for %s, the topology %s: the topology's are used (correct "
      .. "the inventory's edge_servers)",
    de = "das Inventar nennt %s für %s, die Topologie %s: die der Topologie werden verwendet "
      .. "(edge_servers im Inventar korrigieren)",
    fr = "l’inventaire indique %s pour %s, la topologie %s : ceux de la topologie sont utilisés "
      .. "(corriger edge_servers dans l’inventaire)" },
  server_seen = { en = "%s: %s, %d Access Edge certificate(s)",
    de = "%s: %s, %d Access-Edge-Zertifikat(e)", fr = "%s : %s, %d certificat(s) Access Edge" },
  no_cms_master = {
    en = "no Central Management Store master answers (Get-CsManagementStoreReplicationStatus "
      .. "-CentralManagementStoreStatus: ActiveMasterFqdn empty): Set-CsSite cannot write; fail "
      .. "the Central Management Server over first (Invoke-CsManagementServerFailover)",
    de = "kein Master des zentralen Verwaltungsspeichers antwortet "
      .. "(Get-CsManagementStoreReplicationStatus -CentralManagementStoreStatus: "
      .. "ActiveMasterFqdn leer): Set-CsSite kann nicht schreiben; zuerst ein Failover des "
      .. "zentralen Verwaltungsservers ausführen (Invoke-CsManagementServerFailover)",
    fr = "aucun maître du magasin central de gestion ne répond "
      .. "(Get-CsManagementStoreReplicationStatus -CentralManagementStoreStatus : "
      .. "ActiveMasterFqdn vide) : Set-CsSite ne peut pas écrire ; basculez d’abord le serveur "
      .. "central de gestion (Invoke-CsManagementServerFailover)" },
  cms_master = { en = "CMS master %s in %s", de = "CMS-Master %s in %s",
    fr = "maître du CMS %s dans %s" },
  cms_in_old_site = {
    en = " (the site of %s, the pool we leave: if that site is down, fail the Central "
      .. "Management Server over first with Invoke-CsManagementServerFailover)",
    de = " (der Standort von %s, dem Pool, den wir verlassen: ist dieser Standort ausgefallen, "
      .. "zuerst ein Failover des zentralen Verwaltungsservers mit "
      .. "Invoke-CsManagementServerFailover ausführen)",
    fr = " (le site de %s, le pool que nous quittons : si ce site est en panne, basculez "
      .. "d’abord le serveur central de gestion avec Invoke-CsManagementServerFailover)" },
  connects = { en = "%s → %s:%d connects", de = "%s → %s:%d verbindet",
    fr = "%s → %s:%d se connecte" },
  fails = { en = "%s → %s:%d fails", de = "%s → %s:%d scheitert", fr = "%s → %s:%d échoue" },
  nothing_to_try = {
    en = "nothing to try for %s: give its Edge servers' internal_address and xmpp_partner_host "
      .. "in the inventory",
    de = "für %s gibt es nichts zu prüfen: internal_address seiner Edgeserver und "
      .. "xmpp_partner_host im Inventar angeben",
    fr = "rien à essayer pour %s : indiquez l’internal_address de ses serveurs Edge et "
      .. "xmpp_partner_host dans l’inventaire" },
  no_xmpp_policy = {
    en = "no external access policy allows XMPP (EnableXmppAccess is False in %s): "
      .. "Set-CsExternalAccessPolicy -Identity Global -EnableXmppAccess $true, or grant the "
      .. "users a policy that allows it",
    de = "keine Richtlinie für den externen Zugriff erlaubt XMPP (EnableXmppAccess ist False "
      .. "in %s): Set-CsExternalAccessPolicy -Identity Global -EnableXmppAccess $true, oder den "
      .. "Benutzern eine Richtlinie zuweisen, die es erlaubt",
    fr = "aucune stratégie d’accès externe n’autorise XMPP (EnableXmppAccess est False dans "
      .. "%s) : Set-CsExternalAccessPolicy -Identity Global -EnableXmppAccess $true, ou "
      .. "attribuez aux utilisateurs une stratégie qui l’autorise" },
  xmpp_policy = { en = "XMPP access allowed by %s", de = "XMPP-Zugriff erlaubt durch %s",
    fr = "accès XMPP autorisé par %s" },
  xmpp_policy_granted = {
    en = "XMPP access allowed by %s only: only users granted it reach XMPP partners",
    de = "XMPP-Zugriff nur durch %s erlaubt: nur Benutzer, denen sie zugewiesen ist, "
      .. "erreichen XMPP-Partner",
    fr = "accès XMPP autorisé par %s seulement : seuls les utilisateurs qui l’ont reçue "
      .. "joignent les partenaires XMPP" },
  manual_not_read = {
    en = "a Topology Builder setting and the pools' failover state, which runbook does not read",
    de = "eine Einstellung des Topologie-Generators und der Failover-Zustand der Pools, die "
      .. "runbook nicht liest",
    fr = "un réglage du Générateur de topologie et l’état de basculement des pools, que "
      .. "runbook ne lit pas" },
  association_manual = {
    en = "if the Front End pools of %s (%s) kept running: in Topology Builder, Edit Properties "
      .. "of each, Associations, Associate Edge Pool (for media components): %s, then publish "
      .. "the topology (Microsoft's failback page, step 4)",
    de = "falls die Front-End-Pools von %s (%s) weiterliefen: im Topologie-Generator jeweils "
      .. "Eigenschaften bearbeiten, Zuordnungen, Edgepool zuordnen (für Medienkomponenten): %s, "
      .. "dann die Topologie veröffentlichen (Microsofts Seite zum Failback, Schritt 4)",
    fr = "si les pools frontaux de %s (%s) ont continué de fonctionner : dans le Générateur de "
      .. "topologie, Modifier les propriétés de chacun, Associations, Associer un pool de "
      .. "serveurs Edge (pour les composants multimédias) : %s, puis publiez la topologie (page "
      .. "de restauration de Microsoft, étape 4)" },
  sip_route_manual = {
    en = "if the Lync Server (SIP) federation route was failed over too: in Topology Builder "
      .. "clear Enable federation for this Edge pool (Port 5061) on the pool that has it, set "
      .. "it on %s, publish, and run the Deployment Wizard's Setup on its Edge servers (the "
      .. "failback page, step 2)",
    de = "falls auch die Lync Server-Verbundroute (SIP) ein Failover hatte: im "
      .. "Topologie-Generator Verbund für diesen Edgepool aktivieren (Port 5061) beim Pool, der "
      .. "es hat, deaktivieren, bei %s aktivieren, veröffentlichen und auf dessen Edgeservern "
      .. "das Setup des Bereitstellungs-Assistenten ausführen (Seite zum Failback, Schritt 2)",
    fr = "si l’itinéraire de fédération Lync Server (SIP) a aussi basculé : dans le Générateur "
      .. "de topologie, décochez Activer la fédération pour ce pool Edge (port 5061) sur le pool "
      .. "qui l’a, cochez-la sur %s, publiez, puis lancez l’installation de l’Assistant "
      .. "Déploiement sur ses serveurs Edge (page de restauration, étape 2)" },
  pool_failback_manual = {
    en = "if a Front End pool of %s failed over too: Invoke-CsPoolFailback -PoolFqdn <pool> "
      .. "for it now (%s; the failback page, step 5)",
    de = "falls auch ein Front-End-Pool von %s ein Failover hatte: jetzt "
      .. "Invoke-CsPoolFailback -PoolFqdn <Pool> für ihn ausführen (%s; Seite zum Failback, "
      .. "Schritt 5)",
    fr = "si un pool frontal de %s a aussi basculé : exécutez maintenant "
      .. "Invoke-CsPoolFailback -PoolFqdn <pool> pour lui (%s ; page de restauration, "
      .. "étape 5)" },
  outbound_not_tried = { en = "outbound 5269 not tried: no xmpp_partner_host",
    de = "ausgehend 5269 nicht geprüft: kein xmpp_partner_host",
    fr = "5269 sortant non essayé : pas de xmpp_partner_host" },
  outbound_blocked = {
    en = " (open outbound TCP 5269 from the Access Edge to the Internet; if %s itself is "
      .. "down, name a partner that answers in xmpp_partner_host)",
    de = " (ausgehendes TCP 5269 vom Zugriffs-Edge ins Internet öffnen; ist %s selbst "
      .. "ausgefallen, in xmpp_partner_host einen Partner angeben, der antwortet)",
    fr = " (ouvrez le TCP 5269 sortant de l’Edge d’accès vers Internet ; si %s est lui-même "
      .. "en panne, indiquez dans xmpp_partner_host un partenaire qui répond)" },
  gateway_not_tried = {
    en = "23456 to %s not tried: no internal_address in the inventory",
    de = "23456 zu %s nicht geprüft: keine internal_address im Inventar",
    fr = "23456 vers %s non essayé : pas d’internal_address dans l’inventaire" },
  gateway_later = {
    en = " (the services of %s are stopped, so nothing listens: tried again once they run)",
    de = " (die Dienste von %s sind beendet, also lauscht niemand: erneut geprüft, sobald "
      .. "sie laufen)",
    fr = " (les services de %s sont arrêtés, rien n’écoute : réessayé une fois qu’ils "
      .. "tournent)" },

  -- errors: what failed and what to do next
  no_lync_services = {
    en = "[federation] %s reports no Lync services: is it an Edge server of this pool?",
    de = "[federation] %s meldet keine Lync-Dienste: ist er ein Edgeserver dieses Pools?",
    fr = "[federation] %s ne signale aucun service Lync : est-ce un serveur Edge de ce pool ?" },
  all_excluded = {
    en = "[federation] every Edge server of %s is excluded from this run (--set exclude): "
      .. "nothing would carry federation",
    de = "[federation] jeder Edgeserver von %s ist von diesem Lauf ausgenommen (--set "
      .. "exclude): nichts würde den Verbund tragen",
    fr = "[federation] tous les serveurs Edge de %s sont exclus de cette exécution (--set "
      .. "exclude) : plus rien ne porterait la fédération" },
  no_xmpp_service = {
    en = "[federation] %s runs no service whose display name names XMPP: is it an Edge server "
      .. "with XMPP federation?",
    de = "[federation] auf %s läuft kein Dienst, dessen Anzeigename XMPP nennt: ist er ein "
      .. "Edgeserver mit XMPP-Partnerverbund?",
    fr = "[federation] %s n’exécute aucun service dont le nom d’affichage mentionne XMPP : "
      .. "est-ce un serveur Edge avec fédération XMPP ?" },
  dns_failed = { en = "[federation] %s", de = "[federation] %s", fr = "[federation] %s" },
  undo_journal = { en = "[federation] undo_journal %s", de = "[federation] undo_journal %s",
    fr = "[federation] undo_journal %s" },

  -- the runbooks' own evidence (runbooks/xmpp-*.lua)
  replica_note = { en = "(REPLICA keeps running for CMS replication)",
    de = "(REPLICA läuft für die CMS-Replikation weiter)",
    fr = "(REPLICA continue de tourner pour la réplication du CMS)" },
  already_moved = { en = "federation already moved, running",
    de = "Verbund bereits verlegt, Dienste laufen",
    fr = "fédération déjà déplacée, services démarrés" },
  not_moved_yet = { en = "%s now (the route is not moved yet)",
    de = "jetzt %s (die Route ist noch nicht verlegt)",
    fr = "maintenant %s (l’itinéraire n’est pas encore déplacé)" },
  no_edge_server = { en = "%s has no Edge server", de = "%s hat keinen Edgeserver",
    fr = "%s n’a aucun serveur Edge" },
  no_route_to_restore = { en = "no other site's route to restore",
    de = "keine Route eines anderen Standorts wiederherzustellen",
    fr = "aucun itinéraire d’un autre site à rétablir" },
  shares_priority = { en = "%s: %s shares priority %d with %s",
    de = "%s: %s teilt die Priorität %d mit %s", fr = "%s : %s partage la priorité %d avec %s" },
  does_not_resolve = { en = "%s: %s does not resolve to %s",
    de = "%s: %s wird nicht zu %s aufgelöst", fr = "%s : %s ne se résout pas en %s" },
  ttl_seen = { en = "%s %d s", de = "%s %d s", fr = "%s %d s" },
  ttl_over = { en = "%s has TTL %d s, over %d s", de = "%s hat die TTL %d s, über %d s",
    fr = "%s a un TTL de %d s, au-delà de %d s" },
  ttl_not_compared = { en = "%s (no dns.ttl_threshold set: not compared)",
    de = "%s (kein dns.ttl_threshold gesetzt: nicht verglichen)",
    fr = "%s (pas de dns.ttl_threshold : non comparé)" },
  no_site_route = { en = "no site has a route", de = "kein Standort hat eine Route",
    fr = "aucun site n’a d’itinéraire" },
  all_running = { en = "all running", de = "alle laufen", fr = "tous démarrés" },
  stopped = { en = "stopped: %s", de = "beendet: %s", fr = "arrêtés : %s" },
  pool_stage_failed = { en = "%s: stage %s failed: %s", de = "%s: Stufe %s fehlgeschlagen: %s",
    fr = "%s : l’étape %s a échoué : %s" },
})
