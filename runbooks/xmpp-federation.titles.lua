-- The German and French titles and guidance of the XMPP federation runbooks (xmpp-failover,
-- xmpp-failback, xmpp-dr-readiness), keyed by runbook and step id; the runbooks themselves
-- show the English and the logic (runbook.translations, modules/runbook/init.lua). The step
-- titles are those of Microsoft's German and French editions of the procedure ("Failing over
-- the Edge pool used for XMPP federation"); the rest follows their vocabulary. Data only:
-- read like an inventory, nothing here is called.
return {
  -- xmpp-failover (and the steps xmpp-failback takes from it)
  ["xmpp-failover"] = {
    de = "Failover für den Edgepool, der für den XMPP-Partnerverbund verwendet wird",
    fr = "Basculement du pool de serveurs Edge utilisé pour la fédération XMPP" },
  ["pool-deployed"] = {
    de = "Der Edgepool, in dem jetzt der XMPP-Verbund gehostet wird, ist bereitgestellt",
    fr = "Le pool de serveurs Edge qui va héberger la fédération XMPP est déployé",
    guidance = {
      de = "stellen Sie den Edgepool zuerst bereit (Bereitstellen des Zugriffs durch externe "
        .. "Benutzer in Lync Server 2013); eine Voraussetzung, die die Prüfung nennt, beschreibt "
        .. "docs/inventory.md unter \"Prerequisites\"",
      fr = "déployez d’abord le pool (Deploying External User Access in Lync Server 2013) ; une "
        .. "condition préalable que la vérification cite est décrite dans docs/inventory.md, "
        .. "section « Prerequisites »" } },
  ["old-pool-xmpp"] = {
    de = "Geplante Wartung: den XMPP-Proxy auf den Edgeservern des alten Pools beenden",
    fr = "Maintenance planifiée : arrêter le proxy XMPP des serveurs Edge de l’ancien pool" },
  ["stop-services"] = {
    de = "Stop-CsWindowsService auf jedem Edgeserver im neuen Edgepool ausführen",
    fr = "Exécuter Stop-CsWindowsService sur chaque serveur Edge du nouveau pool de serveurs "
      .. "Edge qui va héberger la fédération XMPP" },
  ["federation-route"] = {
    de = "Set-CsSite: die XMPP-Verbundroute wieder auf den neuen Edgepool zeigen lassen",
    fr = "Set-CsSite : faire pointer à nouveau l’itinéraire de fédération XMPP vers le nouveau "
      .. "pool" },
  ["cms-replication"] = {
    de = "Der zentrale Verwaltungsspeicher hat die neue Route auf die Edgeserver repliziert",
    fr = "Le magasin central de gestion a répliqué le nouvel itinéraire vers les serveurs Edge" },
  ["dns-a-record"] = {
    de = "Auf dem externen DNS-Server den DNS-A-Eintrag für den XMPP-Partnerverbund auf den "
      .. "neuen Edgepool verweisen lassen",
    fr = "Sur le serveur DNS externe, modifier l’enregistrement DNS A afin que la fédération "
      .. "XMPP pointe vers le nouveau pool" },
  ["dns-srv-record"] = {
    de = "Der DNS-SRV-Eintrag _xmpp-server._tcp (Port 5269) wird in den neuen Edgepool "
      .. "aufgelöst",
    fr = "L’enregistrement DNS SRV _xmpp-server._tcp (port 5269) de la fédération XMPP "
      .. "correspond au pool de serveurs Edge qui va héberger la fédération XMPP" },
  ["port-5269"] = {
    de = "Port 5269 ist für den neuen Edgepool extern geöffnet",
    fr = "Le port externe 5269 du pool de serveurs Edge qui va héberger la fédération XMPP est "
      .. "ouvert",
    guidance = {
      de = "filtered heißt, eine Firewall verwirft den Verkehr: Port freigeben (samt NAT zum "
        .. "Access-Edge)",
      fr = "filtered signifie qu’un pare-feu rejette le trafic : ouvrez-le (avec sa traduction "
        .. "NAT vers l’Access Edge)" } },
  ["start-services"] = {
    de = "Die Dienste auf allen Edgeservern im neuen Edgepool starten",
    fr = "Démarrer les services de tous les serveurs Edge du pool de serveurs Edge qui va "
      .. "héberger la fédération XMPP" },
  ["federation-answers"] = {
    de = "Der XMPP-Partnerverbund antwortet auf dem neuen Edgepool",
    fr = "La fédération XMPP répond sur le nouveau pool",
    guidance = {
      de = "was die fehlgeschlagene Stufe bedeutet, steht in docs/verification.md",
      fr = "docs/verification.md explique ce que signifie l’étape en échec" } },

  -- xmpp-failback
  ["xmpp-failback"] = {
    de = "XMPP-Partnerverbund auf den ursprünglichen Edgepool zurückführen",
    fr = "Rétablir la fédération XMPP sur le pool de serveurs Edge d’origine" },
  ["federation-route-restore"] = {
    de = "Die XMPP-Verbundroute des anderen Standorts ist wie vor dem Failover",
    fr = "L’itinéraire de fédération XMPP de l’autre site est tel qu’avant le basculement" },
  ["front-end-pools"] = {
    de = "Manuell: die Front-End-Pools des wiederhergestellten Standorts verwenden wieder "
      .. "dessen Edgepool (Topologie-Generator) und werden zurückgeführt, falls sie ein "
      .. "Failover hatten",
    fr = "Manuel : les pools frontaux du site rétabli utilisent de nouveau son pool de "
      .. "serveurs Edge (Générateur de topologie), et sont rétablis s’ils ont basculé" },

  -- xmpp-dr-readiness
  ["xmpp-dr-readiness"] = {
    de = "Bereitschaft des XMPP-Partnerverbunds für die Notfallwiederherstellung",
    fr = "Préparation de la fédération XMPP à la reprise après sinistre" },
  ["srv-per-pool"] = {
    de = "Ein SRV-Eintrag je Edgepool, jeder mit eigener Priorität",
    fr = "Un enregistrement SRV par pool Edge, chacun avec sa propre priorité",
    guidance = {
      de = "für jeden Edgepool einen SRV-Eintrag _xmpp-server._tcp mit eigener Priorität "
        .. "anlegen, wie srv_target, srv_priority und srv_weight im Inventar es angeben",
      fr = "ajoutez un enregistrement SRV _xmpp-server._tcp pour chaque pool Edge, avec des "
        .. "priorités distinctes, comme l’indiquent srv_target, srv_priority et srv_weight de "
        .. "l’inventaire" } },
  ["ttl"] = {
    de = "Partner behalten die alten XMPP-A- und -SRV-Antworten nicht länger als erlaubt",
    fr = "Les partenaires ne gardent les anciennes réponses A et SRV XMPP pas plus longtemps "
      .. "que permis",
    guidance = {
      de = "die TTL dieser Einträge jetzt auf dns.ttl_threshold Sekunden oder weniger senken: "
        .. "nach einem Failover liefern Resolver die alte Antwort noch so lange aus, wie die "
        .. "alte TTL erlaubt",
      fr = "abaissez dès maintenant le TTL de ces enregistrements à dns.ttl_threshold secondes "
        .. "ou moins : après un basculement, les résolveurs servent l’ancienne réponse aussi "
        .. "longtemps que l’ancien TTL le permet" } },
  ["prerequisites"] = {
    de = "Jeder Pool kann den XMPP-Verbund hosten: Partner, Verbund, Version, Zertifikate",
    fr = "Chaque pool peut héberger la fédération XMPP : partenaires, fédération, version, "
      .. "certificats",
    guidance = {
      de = "was jeder Befund erfordert, steht in docs/inventory.md unter \"Prerequisites\"",
      fr = "docs/inventory.md, section « Prerequisites », dit ce que chaque constat demande" } },
  ["route-deployed"] = {
    de = "Die XMPP-Verbundroute zeigt auf einen bereitgestellten Edgepool",
    fr = "L’itinéraire de fédération XMPP pointe vers un pool Edge déployé" },
  ["services-running"] = {
    de = "Die Lync-Dienste laufen auf jedem Edgeserver jedes Pools",
    fr = "Les services Lync tournent sur chaque serveur Edge de chaque pool" },
  ["ports-from-servers"] = {
    de = "Die Ports des XMPP-Verbunds sind von dort offen, wo der Verkehr beginnt",
    fr = "Les ports de la fédération XMPP sont ouverts depuis l’origine du trafic",
    guidance = {
      de = "die Firewall öffnen: 23456 (MTLS) vom Front-End-Server zur internen Schnittstelle "
        .. "des Edgeservers, 5269 ausgehend vom Access-Edge (Portübersicht für XMPP)",
      fr = "ouvrez le pare-feu : 23456 (MTLS) du serveur frontal vers l’interface interne du "
        .. "serveur Edge, 5269 sortant depuis l’Access Edge (récapitulatif des ports pour "
        .. "XMPP)" } },
  ["federation-each-pool"] = {
    de = "Jeder Pool antwortet extern auf 5269 mit einem Zertifikat für die Domäne",
    fr = "Chaque pool répond en XMPP sur 5269 depuis l’extérieur, avec un certificat du domaine",
    guidance = {
      de = "docs/verification.md erklärt jede fehlgeschlagene Stufe (filtered: eine Firewall)",
      fr = "docs/verification.md explique chaque étape en échec (filtered : un pare-feu)" } },
  ["windows-remoting"] = {
    de = "runbook erreicht jeden Windows-Server so, wie das Inventar es sagt: Listener, "
      .. "Anmeldung, Verschlüsselung",
    fr = "runbook atteint chaque serveur Windows comme le dit l’inventaire : écouteur, "
      .. "authentification, chiffrement",
    guidance = {
      de = "docs/transports.md, \"Readiness: how runbook reaches each Windows server\", "
        .. "erklärt jeden Befund und was auszuführen ist",
      fr = "docs/transports.md, « Readiness: how runbook reaches each Windows server », dit "
        .. "ce que signifie chaque constat et quoi exécuter" } },
}
