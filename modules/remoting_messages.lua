--- remoting_messages — what the readiness report of remoting (modules/remoting.lua) says of
-- each way to reach a Windows server, and what to do, in English, German and French.
-- Cmdlets, PowerShell, setting names, hosts, ports and inventory fields stay as they are.
local i18n = require "runbook.i18n"

return i18n.catalogue("remoting", {
  sealed = { en = "sealed", de = "versiegelt", fr = "scellé" },
  unsealed = { en = "unsealed", de = "unversiegelt", fr = "non scellé" },
  configured = { en = "configured", de = "konfiguriert", fr = "configuré" },
  works = { en = "works", de = "funktioniert", fr = "fonctionne" },
  not_tried = { en = "not tried: %s", de = "nicht versucht: %s", fr = "non essayé : %s" },
  no_kerberos_local = {
    en = "%s is a local account, which has no Kerberos",
    de = "%s ist ein lokales Konto, das kein Kerberos hat",
    fr = "%s est un compte local, qui n’a pas de Kerberos" },
  no_kerberos_upn = {
    en = "Kerberos needs user = \"name@REALM\" with a password, or a ccache",
    de = "Kerberos braucht user = \"name@REALM\" mit einem Kennwort, oder einen ccache",
    fr = "Kerberos demande user = \"nom@REALM\" avec un mot de passe, ou un ccache" },
  no_ntlm_password = {
    en = "NTLM needs a password, and the inventory gives none",
    de = "NTLM braucht ein Kennwort, und das Inventar nennt keines",
    fr = "NTLM demande un mot de passe, et l’inventaire n’en donne aucun" },
  not_listening = {
    en = "nothing listens on port %d (refused)",
    de = "auf Port %d lauscht nichts (refused)",
    fr = "rien n’écoute sur le port %d (refused)" },
  timed_out = {
    en = "no answer within %g s (timeout): a firewall that drops, or a server that hangs",
    de = "keine Antwort binnen %g s (timeout): eine Firewall verwirft, oder der Server hängt",
    fr = "pas de réponse en %g s (timeout) : un pare-feu qui rejette en silence, ou un "
      .. "serveur bloqué" },
  timed_out_said = {
    en = "no answer in time (timeout): %s", de = "keine Antwort in der Zeit (timeout): %s",
    fr = "pas de réponse à temps (timeout) : %s" },
  transport_label = { en = "transport %s", de = "Transport %s", fr = "transport %s" },
  tls_failed = { en = "TLS failed: %s (tls)", de = "TLS fehlgeschlagen: %s (tls)",
    fr = "échec TLS : %s (tls)" },
  refused_credentials = {
    en = "authentication refused (401, auth): the user %s or its password is wrong, or the "
      .. "account is no administrator there",
    de = "Anmeldung abgewiesen (401, auth): der Benutzer %s oder sein Kennwort ist falsch, "
      .. "oder das Konto ist dort kein Administrator",
    fr = "authentification refusée (401, auth) : l’utilisateur %s ou son mot de passe est "
      .. "faux, ou le compte n’y est pas administrateur" },
  refused_filtered = {
    en = "authentication refused (401, auth): either the password of %s is wrong, or %s is "
      .. "a local administrator other than the built-in Administrator, whose remote logon "
      .. "UAC filters while LocalAccountTokenFilterPolicy is not 1 on the server — Windows "
      .. "answers both with the same 401",
    de = "Anmeldung abgewiesen (401, auth): entweder ist das Kennwort von %s falsch, oder %s "
      .. "ist ein lokaler Administrator außer dem integrierten Administrator, dessen "
      .. "Remote-Anmeldung die UAC filtert, solange LocalAccountTokenFilterPolicy auf dem "
      .. "Server nicht 1 ist — Windows antwortet auf beides mit demselben 401",
    fr = "authentification refusée (401, auth) : soit le mot de passe de %s est faux, soit %s "
      .. "est un administrateur local autre que l’Administrateur intégré, dont l’UAC filtre "
      .. "la connexion à distance tant que LocalAccountTokenFilterPolicy n’est pas 1 sur le "
      .. "serveur — Windows répond aux deux par le même 401" },
  refused_kerberos = {
    en = "Kerberos refused (auth): %s", de = "Kerberos abgewiesen (auth): %s",
    fr = "Kerberos refusé (auth) : %s" },
  refused_unsealed = {
    en = "refused unsealed (401) while sealed works: the server's AllowUnencrypted is false",
    de = "unversiegelt abgewiesen (401), versiegelt geht: AllowUnencrypted ist auf dem "
      .. "Server false",
    fr = "refusé non scellé (401) alors que scellé fonctionne : AllowUnencrypted est false "
      .. "sur le serveur" },
  refused_binding = {
    en = "refused over HTTPS (401) while HTTP works with the same account: the channel "
      .. "binding does not match (CbtHardeningLevel Strict, and something between changes "
      .. "the certificate, such as a TLS-inspecting proxy)",
    de = "über HTTPS abgewiesen (401), HTTP geht mit demselben Konto: die Kanalbindung passt "
      .. "nicht (CbtHardeningLevel Strict, und etwas dazwischen tauscht das Zertifikat, etwa "
      .. "ein TLS-prüfender Proxy)",
    fr = "refusé en HTTPS (401) alors que HTTP fonctionne avec le même compte : la liaison de "
      .. "canal ne correspond pas (CbtHardeningLevel Strict, et quelque chose entre les deux "
      .. "change le certificat, comme un proxy qui inspecte TLS)" },
  failed_cause = { en = "%s (%s)", de = "%s (%s)", fr = "%s (%s)" },
  lab_label = { en = "the embedded lab (transport sim)",
    de = "das eingebettete Labor (Transport sim)",
    fr = "le laboratoire intégré (transport sim)" },
  lab_works = {
    en = "its emulator answered; the lab has no WinRM listener, authentication or encryption "
      .. "to try",
    de = "sein Emulator hat geantwortet; das Labor hat keinen WinRM-Listener, keine "
      .. "Anmeldung und keine Verschlüsselung zum Ausprobieren",
    fr = "son émulateur a répondu ; le laboratoire n’a ni écouteur WinRM, ni "
      .. "authentification, ni chiffrement à essayer" },
  local_label = { en = "PowerShell on this machine (transport local)",
    de = "PowerShell auf diesem Rechner (Transport local)",
    fr = "PowerShell sur cette machine (transport local)" },
  no_combination = {
    en = "no way to reach the server was tried: the inventory gives it none",
    de = "kein Weg zum Server wurde versucht: das Inventar nennt keinen",
    fr = "aucun moyen d’atteindre le serveur n’a été essayé : l’inventaire n’en donne aucun" },
  unlisted = {
    en = "its Edge servers could not be listed from %s, so their remoting is unknown: %s (%s)",
    de = "seine Edgeserver ließen sich von %s aus nicht auflisten, ihr Fernzugriff ist daher "
      .. "unbekannt: %s (%s)",
    fr = "ses serveurs Edge n’ont pas pu être listés depuis %s, leur accès à distance est donc "
      .. "inconnu : %s (%s)" },
  what_to_do = { en = "what to do: %s", de = "was zu tun ist: %s", fr = "que faire : %s" },
  use_instead = {
    en = "%s works: change the inventory to servers[\"%s\"] = { %s }",
    de = "%s funktioniert: im Inventar servers[\"%s\"] = { %s } setzen",
    fr = "%s fonctionne : dans l’inventaire, servers[\"%s\"] = { %s }" },
  fix_http_listener = {
    en = "on the server, elevated: Enable-PSRemoting -Force (the HTTP listener on 5985 and "
      .. "its firewall rule; Windows Server 2008 R2: winrm quickconfig)",
    de = "auf dem Server, mit erhöhten Rechten: Enable-PSRemoting -Force (der HTTP-Listener "
      .. "auf 5985 und seine Firewallregel; Windows Server 2008 R2: winrm quickconfig)",
    fr = "sur le serveur, en administrateur : Enable-PSRemoting -Force (l’écouteur HTTP sur "
      .. "5985 et sa règle de pare-feu ; Windows Server 2008 R2 : winrm quickconfig)" },
  fix_https_listener = {
    en = "on the server, elevated: New-Item -Path WSMan:\\localhost\\Listener -Transport HTTPS "
      .. "-Address * -CertificateThumbPrint <thumbprint> -Force; New-NetFirewallRule "
      .. "-DisplayName 'WinRM HTTPS' -Direction Inbound -Protocol TCP -LocalPort 5986 -Action "
      .. "Allow (docs/transports.md); or scheme = \"http\" in the inventory",
    de = "auf dem Server, mit erhöhten Rechten: New-Item -Path WSMan:\\localhost\\Listener "
      .. "-Transport HTTPS -Address * -CertificateThumbPrint <thumbprint> -Force; "
      .. "New-NetFirewallRule -DisplayName 'WinRM HTTPS' -Direction Inbound -Protocol TCP "
      .. "-LocalPort 5986 -Action Allow (docs/transports.md); oder scheme = \"http\" im Inventar",
    fr = "sur le serveur, en administrateur : New-Item -Path WSMan:\\localhost\\Listener "
      .. "-Transport HTTPS -Address * -CertificateThumbPrint <thumbprint> -Force ; "
      .. "New-NetFirewallRule -DisplayName 'WinRM HTTPS' -Direction Inbound -Protocol TCP "
      .. "-LocalPort 5986 -Action Allow (docs/transports.md) ; ou scheme = \"http\" dans "
      .. "l’inventaire" },
  fix_firewall = {
    en = "open TCP %d from this machine to the server (on the server: New-NetFirewallRule "
      .. "-DisplayName 'runbook %d' -Direction Inbound -Protocol TCP -LocalPort %d -Action "
      .. "Allow), or check that it runs",
    de = "TCP %d von diesem Rechner zum Server öffnen (auf dem Server: New-NetFirewallRule "
      .. "-DisplayName 'runbook %d' -Direction Inbound -Protocol TCP -LocalPort %d -Action "
      .. "Allow), oder prüfen, ob er läuft",
    fr = "ouvrez TCP %d de cette machine vers le serveur (sur le serveur : New-NetFirewallRule "
      .. "-DisplayName 'runbook %d' -Direction Inbound -Protocol TCP -LocalPort %d -Action "
      .. "Allow), ou vérifiez qu’il tourne" },
  fix_tls = {
    en = "give ca_file the CA that signed the listener's certificate, which must name %s",
    de = "ca_file die CA geben, die das Zertifikat des Listeners signiert hat; es muss %s "
      .. "nennen",
    fr = "donnez à ca_file l’AC qui a signé le certificat de l’écouteur, qui doit nommer %s" },
  fix_token_filter = {
    en = "check the password reference of %s; if it is right, on the server, elevated: "
      .. "New-ItemProperty -Path HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\"
      .. "Policies\\System -Name LocalAccountTokenFilterPolicy -PropertyType DWord -Value 1 "
      .. "-Force — or use the built-in Administrator or a domain account",
    de = "die Kennwortreferenz von %s prüfen; stimmt sie, auf dem Server mit erhöhten "
      .. "Rechten: New-ItemProperty -Path HKLM:\\SOFTWARE\\Microsoft\\Windows\\"
      .. "CurrentVersion\\Policies\\System -Name LocalAccountTokenFilterPolicy -PropertyType "
      .. "DWord -Value 1 -Force — oder den integrierten Administrator oder ein Domänenkonto "
      .. "verwenden",
    fr = "vérifiez la référence du mot de passe de %s ; si elle est juste, sur le serveur, en "
      .. "administrateur : New-ItemProperty -Path HKLM:\\SOFTWARE\\Microsoft\\Windows\\"
      .. "CurrentVersion\\Policies\\System -Name LocalAccountTokenFilterPolicy -PropertyType "
      .. "DWord -Value 1 -Force — ou utilisez l’Administrateur intégré ou un compte de domaine" },
  fix_credentials = {
    en = "check the user %s (HOST\\user for a local account of a workgroup server), its "
      .. "password reference, and that it is in the server's Administrators group",
    de = "den Benutzer %s prüfen (HOST\\user für ein lokales Konto eines Arbeitsgruppenservers), "
      .. "seine Kennwortreferenz, und dass er in der Gruppe Administratoren des Servers ist",
    fr = "vérifiez l’utilisateur %s (HOST\\user pour un compte local d’un serveur de groupe de "
      .. "travail), la référence de son mot de passe, et qu’il est dans le groupe "
      .. "Administrateurs du serveur" },
  fix_kerberos = {
    en = "the Kerberos message says what (clock, HTTP/<name> SPN, password); auth = \"ntlm\" "
      .. "avoids Kerberos",
    de = "die Kerberos-Meldung sagt, was (Uhr, SPN HTTP/<Name>, Kennwort); auth = \"ntlm\" "
      .. "umgeht Kerberos",
    fr = "le message Kerberos dit quoi (horloge, SPN HTTP/<nom>, mot de passe) ; auth = "
      .. "\"ntlm\" évite Kerberos" },
  fix_unsealed = {
    en = "leave allow_unencrypted out of the inventory: runbook then seals every message, "
      .. "which the server accepts as it ships",
    de = "allow_unencrypted aus dem Inventar entfernen: runbook versiegelt dann jede "
      .. "Nachricht, die der Server so annimmt, wie er ausgeliefert wird",
    fr = "retirez allow_unencrypted de l’inventaire : runbook scelle alors chaque message, ce "
      .. "que le serveur accepte tel qu’il est livré" },
  fix_binding = {
    en = "connect without the TLS-inspecting device in between, or on the server, elevated: "
      .. "Set-Item WSMan:\\localhost\\Service\\Auth\\CbtHardeningLevel Relaxed",
    de = "ohne das TLS-prüfende Gerät dazwischen verbinden, oder auf dem Server mit erhöhten "
      .. "Rechten: Set-Item WSMan:\\localhost\\Service\\Auth\\CbtHardeningLevel Relaxed",
    fr = "connectez-vous sans l’appareil qui inspecte TLS entre les deux, ou sur le serveur, "
      .. "en administrateur : Set-Item WSMan:\\localhost\\Service\\Auth\\CbtHardeningLevel "
      .. "Relaxed" },
  fix_sshd = {
    en = "start the OpenSSH server there (Start-Service sshd; docs/transports.md)",
    de = "dort den OpenSSH-Server starten (Start-Service sshd; docs/transports.md)",
    fr = "démarrez-y le serveur OpenSSH (Start-Service sshd ; docs/transports.md)" },
  fix_ssh_auth = {
    en = "check user, key_file, passphrase or password of the server in the inventory, and "
      .. "the key in the account's authorized_keys",
    de = "user, key_file, passphrase oder password des Servers im Inventar prüfen, und den "
      .. "Schlüssel in authorized_keys des Kontos",
    fr = "vérifiez user, key_file, passphrase ou password du serveur dans l’inventaire, et la "
      .. "clé dans authorized_keys du compte" },
  fix_hostkey = {
    en = "compare the host key's fingerprint with the server's administrator, then add it "
      .. "to known_hosts",
    de = "den Fingerabdruck des Hostschlüssels mit dem Administrator des Servers vergleichen, "
      .. "dann in known_hosts eintragen",
    fr = "comparez l’empreinte de la clé d’hôte avec l’administrateur du serveur, puis "
      .. "ajoutez-la à known_hosts" },
  fix_other = {
    en = "docs/troubleshooting.md, \"Failure causes\", says what the cause %s means",
    de = "docs/troubleshooting.md, \"Failure causes\", erklärt die Ursache %s",
    fr = "docs/troubleshooting.md, « Failure causes », explique la cause %s" },
})
