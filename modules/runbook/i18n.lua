--- runbook.i18n — the engine's own words in English, German and French. Step titles
-- come from the runbooks ({en=, de=, fr=}); this holds the rest: every message the engine
-- shows an operator is a key here, with all three languages. The language is --lang, else
-- the locale of messages as POSIX orders it: $LC_ALL, else $LC_MESSAGES, else $LANG
-- (de_DE.UTF-8 → de; an empty variable does not count), else English.
-- Other modules keep their own words in catalogues beside them (M.catalogue): the engine
-- knows no product. The pseudo-language "xx" (RUNBOOK_PSEUDO_LOCALE=1, for tests only) shows
-- the English text of every catalogue entry between ⟦ and ⟧, its arguments outside, so a
-- test can find any word that reached the operator without passing through a catalogue.
local M = { lang = "en" }

local messages = {
  colon = { en = ": ", de = ": ", fr = " : " },   -- between a label and what it labels
  plan_header = { en = "Plan", de = "Plan", fr = "Plan" },
  run_header = { en = "Run", de = "Ausführung", fr = "Exécution" },
  already = { en = "already done", de = "bereits erledigt", fr = "déjà fait" },
  will_change = { en = "will change", de = "wird geändert", fr = "sera modifié" },
  pending = { en = "checked again after the earlier steps",
              de = "wird nach den vorigen Schritten erneut geprüft",
              fr = "vérifié à nouveau après les étapes précédentes" },
  would_fail = { en = "cannot proceed", de = "kann nicht fortfahren",
                  fr = "impossible de continuer" },
  skipped = { en = "already holds, as the check saw:", de = "gilt bereits, wie die Prüfung sah:",
              fr = "déjà en place, comme la vérification l’a vu :" },
  done = { en = "done", de = "erledigt", fr = "terminé" },
  failed = { en = "FAILED", de = "FEHLGESCHLAGEN", fr = "ÉCHEC" },
  confirm = { en = "Proceed with these changes? [y/N] ", de = "Diese Änderungen ausführen? [j/N] ",
              fr = "Effectuer ces modifications ? [o/N] " },
  confirm_step = { en = "Carry out this step? [y/N] ", de = "Diesen Schritt ausführen? [j/N] ",
                   fr = "Exécuter cette étape ? [o/N] " },
  declined = { en = "declined: nothing was changed", de = "abgelehnt: nichts wurde geändert",
               fr = "refusé : rien n’a été modifié" },
  declined_at = { en = "declined at step %s", de = "bei Schritt %s abgelehnt",
                  fr = "refusé à l’étape %s" },
  not_a_terminal = {
    en = "standard input is not a terminal, so nobody can confirm: nothing was changed; run "
      .. "again with --yes to proceed without confirmation",
    de = "die Standardeingabe ist kein Terminal, niemand kann also bestätigen: nichts wurde "
      .. "geändert; mit --yes erneut ausführen, um ohne Bestätigung fortzufahren",
    fr = "l’entrée standard n’est pas un terminal, personne ne peut donc confirmer : rien n’a "
      .. "été modifié ; relancez avec --yes pour continuer sans confirmation" },
  no_changes = { en = "nothing to change", de = "nichts zu ändern", fr = "rien à modifier" },
  summary_ok = { en = "all steps done", de = "alle Schritte erledigt",
                 fr = "toutes les étapes terminées" },
  summary_failed = { en = "stopped at a failed step",
                     de = "bei einem fehlgeschlagenen Schritt angehalten",
                     fr = "arrêté à une étape en échec" },
  summary_blocked = { en = "cannot proceed: a check does not hold, nothing was changed",
                      de = "kann nicht fortfahren: eine Prüfung trifft nicht zu, nichts wurde "
                        .. "geändert",
                      fr = "impossible de continuer : une vérification échoue, rien n’a été "
                        .. "modifié" },
  preflight = { en = "preflight", de = "Vorprüfung", fr = "vérification préalable" },
  summary_preflight = {
    en = "cannot start: a capability the run needs is missing (✗ above), nothing was changed",
    de = "kann nicht beginnen: eine Fähigkeit, die der Lauf braucht, fehlt (✗ oben), nichts "
      .. "wurde geändert",
    fr = "impossible de commencer : une capacité nécessaire manque (✗ ci-dessus), rien n’a "
      .. "été modifié" },
  plan_nothing = { en = "plan: nothing to change (%d steps already done)",
                   de = "Plan: nichts zu ändern (%d Schritte bereits erledigt)",
                   fr = "plan : rien à modifier (%d étape(s) déjà faite(s))" },
  plan_changes = { en = "plan: %d steps to change, %d already done, %d checked again after them",
                   de = "Plan: %d Schritte zu ändern, %d bereits erledigt, %d danach erneut "
                     .. "geprüft",
                   fr = "plan : %d étape(s) à modifier, %d déjà faite(s), %d vérifiée(s) à "
                     .. "nouveau ensuite" },
  history_done = { en = "done", de = "erledigt", fr = "terminé" },
  history_failed = { en = "failed", de = "fehlgeschlagen", fr = "en échec" },
  history_rolled_back = { en = "failed, rolled back", de = "fehlgeschlagen, zurückgesetzt",
                          fr = "en échec, annulé" },
  history_interrupted = { en = "interrupted", de = "unterbrochen", fr = "interrompu" },
  history_declined = { en = "declined", de = "abgelehnt", fr = "refusé" },
  history_running = { en = "running", de = "läuft", fr = "en cours" },
  history_crashed = { en = "ended without a record (killed?)",
                      de = "ohne Eintrag beendet (abgebrochen?)",
                      fr = "terminé sans trace (tué ?)" },
  history_none = { en = "no run recorded in %s", de = "keine Ausführung in %s verzeichnet",
                   fr = "aucune exécution enregistrée dans %s" },
  history_changes = { en = "%d changes", de = "%d Änderungen", fr = "%d modification(s)" },
  history_by = { en = "by %s", de = "von %s", fr = "par %s" },
  -- runbook.progress: "waiting for " .. what .. " (40 s of 600 s)"; {name} is filled in
  progress_waiting = { en = "waiting for %s", de = "warte auf %s", fr = "en attente de %s" },
  progress_time_of = { en = "(%s s of %s s)", de = "(%s s von %s s)", fr = "(%s s sur %s s)" },
  progress_time = { en = "(%s s)", de = "(%s s)", fr = "(%s s)" },
  progress_finished = { en = "%s, after %s s", de = "%s, nach %s s", fr = "%s, après %s s" },
  progress_stopped = { en = "%s — stopped waiting after %s s",
                       de = "%s — Warten nach %s s beendet",
                       fr = "%s — attente arrêtée après %s s" },
  progress_cms_replication = {
    en = "CMS replication: {done}/{total} Edge servers up to date",
    de = "CMS-Replikation: {done}/{total} Edge-Server auf dem neuesten Stand",
    fr = "réplication du CMS : {done}/{total} serveurs Edge à jour" },
  progress_dns_propagation = {
    en = "{subject} on the authoritative servers: {done}/{total} serve it",
    de = "{subject} auf den autoritativen Servern: {done}/{total} liefern es",
    fr = "{subject} sur les serveurs faisant autorité : {done}/{total} le servent" },
  progress_services_stopped = {
    en = "the services of {subject}: {done}/{total} stopped",
    de = "die Dienste von {subject}: {done}/{total} beendet",
    fr = "les services de {subject} : {done}/{total} arrêtés" },
  progress_services_running = {
    en = "the services of {subject}: {done}/{total} running",
    de = "die Dienste von {subject}: {done}/{total} laufen",
    fr = "les services de {subject} : {done}/{total} démarrés" },
  progress_behind = { en = "behind: %s", de = "im Rückstand: %s", fr = "en retard : %s" },
  progress_serial = { en = "%s serves serial %s", de = "%s liefert Seriennummer %s",
                      fr = "%s sert le numéro de série %s" },
  progress_no_answer = { en = "%s does not answer", de = "%s antwortet nicht",
                         fr = "%s ne répond pas" },
  -- runbook.report: the page a person reads after the run
  report_title = { en = "Run report", de = "Ausführungsbericht", fr = "Rapport d’exécution" },
  report_runbook = { en = "Runbook", de = "Runbook", fr = "Runbook" },
  report_inventory = { en = "Inventory", de = "Inventar", fr = "Inventaire" },
  report_operator = { en = "Operator", de = "Bediener", fr = "Opérateur" },
  report_started = { en = "Started", de = "Begonnen", fr = "Début" },
  report_ended = { en = "Last record", de = "Letzter Eintrag", fr = "Dernière entrée" },
  report_duration = { en = "Duration", de = "Dauer", fr = "Durée" },
  report_result = { en = "Result", de = "Ergebnis", fr = "Résultat" },
  report_changes_left = { en = "Changes in place (not rolled back)",
                          de = "Bestehende Änderungen (nicht zurückgesetzt)",
                          fr = "Modifications en place (non annulées)" },
  report_timeline = { en = "Timeline: steps × hosts", de = "Zeitachse: Schritte × Hosts",
                      fr = "Chronologie : étapes × hôtes" },
  report_changes = { en = "What changed: before → after per host",
                     de = "Was sich änderte: vorher → nachher je Host",
                     fr = "Ce qui a changé : avant → après par hôte" },
  report_step = { en = "Step", de = "Schritt", fr = "Étape" },
  report_host = { en = "Host", de = "Host", fr = "Hôte" },
  report_before = { en = "Before (as the check saw it)", de = "Vorher (wie die Prüfung es sah)",
                    fr = "Avant (vu par la vérification)" },
  report_after = { en = "After", de = "Nachher", fr = "Après" },
  report_outcome = { en = "Outcome", de = "Ergebnis", fr = "Issue" },
  report_final = { en = "Final verification", de = "Abschließende Überprüfung",
                   fr = "Vérification finale" },
  report_rollbacks = { en = "Rollbacks", de = "Zurücksetzungen", fr = "Annulations" },
  report_left = { en = "Left different", de = "Verändert geblieben", fr = "Resté modifié" },
  report_why = { en = "Why", de = "Warum", fr = "Pourquoi" },
  report_steps = { en = "Steps", de = "Schritte", fr = "Étapes" },
  report_changed = { en = "changed", de = "geändert", fr = "modifié" },
  report_changed_rolled_back = { en = "changed, then rolled back",
                                 de = "geändert, dann zurückgesetzt",
                                 fr = "modifié, puis annulé" },
  report_failed = { en = "failed", de = "fehlgeschlagen", fr = "en échec" },
  report_unknown_outcome = { en = "begun, no outcome recorded (interrupted)",
                             de = "begonnen, kein Ergebnis verzeichnet (unterbrochen)",
                             fr = "commencé, aucune issue enregistrée (interrompu)" },
  report_held = { en = "already held", de = "galt bereits", fr = "déjà en place" },
  report_not_changed = { en = "not changed", de = "nicht geändert", fr = "non modifié" },
  report_not_reached = { en = "not reached", de = "nicht erreicht", fr = "non atteint" },
  metrics_failed = { en = "--metrics %s: not written: %s (the run goes on)",
                     de = "--metrics %s: nicht geschrieben: %s (die Ausführung geht weiter)",
                     fr = "--metrics %s : non écrit : %s (l’exécution continue)" },
  report_none = { en = "none", de = "keine", fr = "aucune" },
  report_restored = { en = "restored", de = "wiederhergestellt", fr = "rétabli" },
  report_step_changed = { en = "changed", de = "geändert", fr = "modifiée" },
  report_written = { en = "report written to %s", de = "Bericht geschrieben nach %s",
                     fr = "rapport écrit dans %s" },
  report_write_failed = { en = "cannot write the report to %s: %s",
                          de = "Bericht kann nicht nach %s geschrieben werden: %s",
                          fr = "impossible d’écrire le rapport dans %s : %s" },
  summary_interrupted = { en = "interrupted", de = "unterbrochen", fr = "interrompu" },
  summary_counts = { en = "%d changed, %d already done, %d failed",
                     de = "%d geändert, %d bereits erledigt, %d fehlgeschlagen",
                     fr = "%d modifiée(s), %d déjà faite(s), %d en échec" },
  precondition = { en = "precondition does not hold", de = "Vorbedingung nicht erfüllt",
                   fr = "condition préalable non remplie" },
  precheck_failed = { en = "pre-check of step '%s' failed: %s",
                      de = "Vorabprüfung von Schritt '%s' fehlgeschlagen: %s",
                      fr = "échec de la vérification préalable de l’étape '%s' : %s" },
  no_reason = { en = "no reason given", de = "kein Grund angegeben", fr = "aucune raison donnée" },
  no_hosts = { en = "step '%s': hosts() returned no host",
               de = "Schritt '%s': hosts() lieferte keinen Host",
               fr = "étape '%s' : hosts() n’a renvoyé aucun hôte" },
  rollback = { en = "rolling back", de = "wird zurückgesetzt", fr = "annulation" },
  no_rollback_function = { en = "the step has no rollback: restore it by hand",
                           de = "der Schritt hat kein Zurücksetzen: von Hand wiederherstellen",
                           fr = "l’étape n’a pas d’annulation : rétablissez-la à la main" },
  not_rolled_back = { en = "not rolled back (--rollback never, or declined)",
                      de = "nicht zurückgesetzt (--rollback never oder abgelehnt)",
                      fr = "non annulé (--rollback never, ou refusé)" },
  summary_restored = { en = "restored: %s", de = "wiederhergestellt: %s", fr = "rétabli : %s" },
  manual_step = { en = "manual step, left to you: %s", de = "manueller Schritt, bleibt Ihnen: %s",
                  fr = "étape manuelle, à votre charge : %s" },
  summary_left = { en = "left changed: %s — %s", de = "verändert geblieben: %s — %s",
                   fr = "resté modifié : %s — %s" },
  half_done = { en = " (half-done)", de = " (halb erledigt)", fr = " (à moitié fait)" },
  rollback_ask = { en = "Roll back the completed steps? [y/N] ",
                   de = "Die erledigten Schritte zurücksetzen? [j/N] ",
                   fr = "Annuler les étapes terminées ? [o/N] " },
  simulation = { en = "SIMULATION — embedded lab, no real server is touched",
                 de = "SIMULATION — eingebettetes Labor, kein echter Server wird berührt",
                 fr = "SIMULATION — laboratoire intégré, aucun serveur réel n’est touché" },
  journal = { en = "journal", de = "Journal", fr = "journal" },
  journal_failed = { en = "%s: the run stops rather than go on unrecorded",
                     de = "%s: die Ausführung hält an, statt ohne Journal weiterzugehen",
                     fr = "%s : l’exécution s’arrête plutôt que de continuer sans journal" },
  audit_failed = { en = "audit log: %s: the run goes on, unaudited",
                   de = "Audit-Protokoll: %s: die Ausführung geht ohne Protokoll weiter",
                   fr = "journal d’audit : %s : l’exécution continue sans audit" },
  resume_hint = { en = "resume with", de = "fortsetzen mit", fr = "reprendre avec" },
  verify_failed = { en = "verification failed", de = "Überprüfung fehlgeschlagen",
                    fr = "échec de la vérification" },

  -- Inventory and parameter checks (runbook.schema, runbook.session): said by `check`, `plan`
  -- and `run` before any traffic, after "file:line: key: ".
  unknown_key = { en = "unknown key", de = "unbekannter Schlüssel", fr = "clé inconnue" },
  did_you_mean = { en = " (did you mean '%s'?)", de = " (gemeint: '%s'?)",
                   fr = " (vouliez-vous dire '%s' ?)" },
  required = { en = "required: %s", de = "erforderlich: %s", fr = "obligatoire : %s" },
  a_type = { en = "a %s", de = "Typ %s", fr = "de type %s" },
  expected_got = { en = "expected %s, got %s", de = "erwartet: %s, gefunden: %s",
                   fr = "attendu : %s, trouvé : %s" },
  expected_one_of = { en = "expected one of %s, got %s",
                      de = "erwartet: eines von %s, gefunden: %s",
                      fr = "attendu : l’une des valeurs %s, trouvé : %s" },
  does_not_look_like = { en = "%s does not look like %s", de = "%s sieht nicht aus wie %s",
                         fr = "%s ne ressemble pas à %s" },
  keys_must_be_names = { en = "keys must be names", de = "Schlüssel müssen Namen sein",
                         fr = "les clés doivent être des noms" },
  list_no_named_keys = { en = "a list takes no named keys",
                         de = "eine Liste hat keine benannten Schlüssel",
                         fr = "une liste n’a pas de clés nommées" },
  no_schema_type = { en = "the schema has no type %s", de = "das Schema kennt keinen Typ %s",
                     fr = "le schéma n’a pas de type %s" },
  a_table = { en = "a table", de = "eine Tabelle", fr = "une table" },
  file_missing = { en = "%s does not exist: give the path of an existing file",
                   de = "%s existiert nicht: geben Sie den Pfad einer vorhandenen Datei an",
                   fr = "%s n’existe pas : indiquez le chemin d’un fichier existant" },
  file_not_file = { en = "%s is a %s, not a file", de = "%s ist keine Datei, sondern: %s",
                    fr = "%s n’est pas un fichier mais : %s" },
  file_unreadable = { en = "%s cannot be read by this user: check its permissions",
                      de = "%s ist für diesen Benutzer nicht lesbar: Berechtigungen prüfen",
                      fr = "%s n’est pas lisible par cet utilisateur : vérifiez ses droits" },
  file_too_open = { en = "permissions %s of %s are too open: a private key must be readable "
                      .. "by its owner only (chmod 600)",
                    de = "die Berechtigungen %s von %s sind zu offen: ein privater Schlüssel darf "
                      .. "nur für seinen Besitzer lesbar sein (chmod 600)",
                    fr = "les droits %s de %s sont trop ouverts : une clé privée ne doit être "
                      .. "lisible que par son propriétaire (chmod 600)" },
  file_not_kind = { en = "%s is not %s", de = "%s ist nicht %s", fr = "%s n’est pas %s" },
  file_bad_line = { en = "%s line %d is not a line of %s",
                    de = "%s Zeile %d ist keine Zeile von %s",
                    fr = "%s ligne %d n’est pas une ligne %s" },
  kind_private_key = { en = "a private key (-----BEGIN ... PRIVATE KEY-----)",
                       de = "ein privater Schlüssel (-----BEGIN ... PRIVATE KEY-----)",
                       fr = "une clé privée (-----BEGIN ... PRIVATE KEY-----)" },
  kind_known_hosts = { en = "a known_hosts file (host keytype key)",
                       de = "einer known_hosts-Datei (Host Schlüsseltyp Schlüssel)",
                       fr = "de fichier known_hosts (hôte type clé)" },
  kind_ca = { en = "a PEM file of CA certificates (-----BEGIN CERTIFICATE-----)",
              de = "eine PEM-Datei mit CA-Zertifikaten (-----BEGIN CERTIFICATE-----)",
              fr = "un fichier PEM de certificats d’autorité (-----BEGIN CERTIFICATE-----)" },
  a_value_of_length = { en = "a %s of %d characters (not shown: it may be the secret)",
                        de = "ein Wert (%s) mit %d Zeichen (nicht angezeigt: es könnte das "
                          .. "Geheimnis sein)",
                        fr = "une valeur (%s) de %d caractères (non affichée : ce pourrait être "
                          .. "le secret)" },
  a_list = { en = "a list { ... }", de = "eine Liste { ... }", fr = "une liste { ... }" },
  a_string = { en = "a string", de = "eine Zeichenkette", fr = "une chaîne" },
  a_number = { en = "a number", de = "eine Zahl", fr = "un nombre" },
  a_whole_number = { en = "a whole number", de = "eine ganze Zahl", fr = "un nombre entier" },
  true_or_false = { en = "true or false", de = "true oder false", fr = "true ou false" },
  a_credential = {
    en = "a credential reference (env:NAME, file:PATH, prompt or agent) — never the secret itself",
    de = "ein Verweis auf Zugangsdaten (env:NAME, file:PATH, prompt oder agent) — nie das "
      .. "Geheimnis selbst",
    fr = "une référence d’identifiants (env:NAME, file:PATH, prompt ou agent) — jamais le "
      .. "secret lui-même" },
  set_no_parameter = { en = "--set %s: %s has no parameter '%s' (its parameters: %s)",
                       de = "--set %s: %s hat keinen Parameter '%s' (seine Parameter: %s)",
                       fr = "--set %s : %s n’a pas de paramètre '%s' (ses paramètres : %s)" },
  none = { en = "none", de = "keine", fr = "aucun" },
  parameter_problem = { en = "parameter '%s': %s", de = "Parameter '%s': %s",
                        fr = "paramètre '%s' : %s" },
  inventory_unreadable = {
    en = "inventory %s: cannot be read (give -i FILE or set RUNBOOK_INVENTORY)",
    de = "Inventar %s: nicht lesbar (-i DATEI angeben oder RUNBOOK_INVENTORY setzen)",
    fr = "inventaire %s : illisible (indiquez -i FICHIER ou définissez RUNBOOK_INVENTORY)" },
  inventory_not_table = { en = "%s:1: an inventory must return a table (`return { ... }`)",
                          de = "%s:1: ein Inventar muss eine Tabelle zurückgeben "
                            .. "(`return { ... }`)",
                          fr = "%s:1: un inventaire doit renvoyer une table (`return { ... }`)" },
  inventory_too_long = {
    en = "inventory %s: runs too long — an inventory is data (tables, strings, numbers, booleans)",
    de = "Inventar %s: läuft zu lange — ein Inventar enthält nur Daten (Tabellen, Zeichenketten, "
      .. "Zahlen, Wahrheitswerte)",
    fr = "inventaire %s : s’exécute trop longtemps — un inventaire ne contient que des données "
      .. "(tables, chaînes, nombres, booléens)" },
  inventory_code = { en = "%s (an inventory is data: no function may be called)",
                     de = "%s (ein Inventar enthält nur Daten: kein Funktionsaufruf erlaubt)",
                     fr = "%s (un inventaire ne contient que des données : aucun appel de "
                       .. "fonction n’est permis)" },
  env_unset = {
    en = "[secrets] environment variable %s is not set: export it before the run, or change the "
      .. "credential reference",
    de = "[secrets] Umgebungsvariable %s ist nicht gesetzt: vor der Ausführung exportieren oder "
      .. "den Verweis auf die Zugangsdaten ändern",
    fr = "[secrets] la variable d’environnement %s n’est pas définie : exportez-la avant "
      .. "l’exécution, ou changez la référence d’identifiants" },
  not_a_file = { en = "[secrets] %s is not a file", de = "[secrets] %s ist keine Datei",
                 fr = "[secrets] %s n’est pas un fichier" },
  readable_by_others = {
    en = "[secrets] %s is readable by others (mode %o): run `chmod 600 %s`",
    de = "[secrets] %s ist für andere lesbar (Modus %o): `chmod 600 %s` ausführen",
    fr = "[secrets] %s est lisible par d’autres (mode %o) : lancez `chmod 600 %s`" },
  not_a_reference = {
    en = "[secrets] not a credential reference: write env:NAME, file:PATH, prompt or agent",
    de = "[secrets] kein Verweis auf Zugangsdaten: env:NAME, file:PATH, prompt oder agent "
      .. "angeben",
    fr = "[secrets] pas une référence d’identifiants : écrivez env:NAME, file:PATH, prompt ou "
      .. "agent" },

  -- The lock (runbook.journal).
  lock_held = {
    en = "another run of %s against %s is in progress (pid %s, lock %s): wait for it, or stop "
      .. "it first",
    de = "eine andere Ausführung von %s für %s läuft bereits (PID %s, Sperre %s): ihr Ende "
      .. "abwarten oder sie zuerst beenden",
    fr = "une autre exécution de %s sur %s est en cours (pid %s, verrou %s) : attendez sa fin, "
      .. "ou arrêtez-la d’abord" },
  unknown = { en = "unknown", de = "unbekannt", fr = "inconnu" },
  lock_failed = { en = "cannot take the lock %s: %s",
                  de = "Sperre %s kann nicht gesetzt werden: %s",
                  fr = "impossible de prendre le verrou %s : %s" },

  -- Resuming, and how the loop ends (runbook.cli).
  not_a_journal = { en = "%s: not a runbook journal", de = "%s: kein Runbook-Journal",
                    fr = "%s : pas un journal de runbook" },
  no_start_record = { en = "%s: not a runbook journal (no start record)",
                      de = "%s: kein Runbook-Journal (kein Starteintrag)",
                      fr = "%s : pas un journal de runbook (aucune entrée de départ)" },
  already_finished = { en = "%s: that run already finished (%s): nothing to resume",
                       de = "%s: diese Ausführung ist bereits beendet (%s): nichts fortzusetzen",
                       fr = "%s : cette exécution est déjà terminée (%s) : rien à reprendre" },
  finished_failed = { en = "failed", de = "fehlgeschlagen", fr = "en échec" },
  resume_parameter_changed = {
    en = "resume: parameter %s was %s in the interrupted run and would now be %s (a --set, the "
      .. "inventory or a default changed): a resumed run goes on with the values it started "
      .. "with — undo that change, or start a new run",
    de = "resume: Parameter %s war %s in der unterbrochenen Ausführung und wäre jetzt %s (ein "
      .. "--set, das Inventar oder ein Standardwert hat sich geändert): eine fortgesetzte "
      .. "Ausführung behält ihre Anfangswerte — die Änderung zurücknehmen oder eine neue "
      .. "Ausführung starten",
    fr = "resume : le paramètre %s valait %s dans l’exécution interrompue et vaudrait "
      .. "maintenant %s (un --set, l’inventaire ou une valeur par défaut a changé) : une "
      .. "exécution reprise garde ses valeurs de départ — annulez ce changement, ou lancez une "
      .. "nouvelle exécution" },
  resume_set_changes = {
    en = "resume: --set %s would change %s, which the interrupted run had as %q: a resumed run "
      .. "goes on with the values it started with — leave that --set out, or start a new run",
    de = "resume: --set %s würde %s ändern, das in der unterbrochenen Ausführung %q war: eine "
      .. "fortgesetzte Ausführung behält ihre Anfangswerte — dieses --set weglassen oder eine "
      .. "neue Ausführung starten",
    fr = "resume : --set %s changerait %s, qui valait %q dans l’exécution interrompue : une "
      .. "exécution reprise garde ses valeurs de départ — retirez ce --set, ou lancez une "
      .. "nouvelle exécution" },
  resume_other_inventory = {
    en = "resume: the interrupted run used the inventory %s, not %s: resume without -i, or "
      .. "start a new run",
    de = "resume: die unterbrochene Ausführung verwendete das Inventar %s, nicht %s: ohne -i "
      .. "fortsetzen oder eine neue Ausführung starten",
    fr = "resume : l’exécution interrompue utilisait l’inventaire %s, pas %s : reprenez sans "
      .. "-i, ou lancez une nouvelle exécution" },
  interrupted = { en = "interrupted: every task was cancelled",
                  de = "unterbrochen: alle Aufgaben wurden abgebrochen",
                  fr = "interrompu : toutes les tâches ont été annulées" },
  deadlock = { en = "every task is waiting for something that can never happen (deadlock)",
               de = "alle Aufgaben warten auf etwas, das nie eintreten kann (Deadlock)",
               fr = "toutes les tâches attendent quelque chose qui ne peut jamais arriver "
                 .. "(interblocage)" },

  -- Runbook definitions and extensions (runbook, runbook.schema): read by runbook authors.
  step_not_table = { en = "every step must be a table { id = …, … }",
                     de = "jeder Schritt muss eine Tabelle { id = …, … } sein",
                     fr = "chaque étape doit être une table { id = …, … }" },
  step_without_id = { en = "a step has no id (give every step id = \"some-name\")",
                      de = "ein Schritt hat keine id (jedem Schritt id = \"ein-name\" geben)",
                      fr = "une étape n’a pas d’id (donnez à chaque étape id = \"un-nom\")" },
  step_id_twice = { en = "two steps have the id '%s'", de = "zwei Schritte haben die id '%s'",
                    fr = "deux étapes ont l’id '%s'" },
  step_unknown_key = { en = "step '%s': unknown key '%s'",
                       de = "Schritt '%s': unbekannter Schlüssel '%s'",
                       fr = "étape '%s' : clé inconnue '%s'" },
  step_needs_check = {
    en = "step '%s' needs a check function (read-only: does the desired state hold already?)",
    de = "Schritt '%s' braucht eine check-Funktion (nur lesend: besteht der gewünschte Zustand "
      .. "schon?)",
    fr = "l’étape '%s' doit avoir une fonction check (en lecture seule : l’état voulu est-il "
      .. "déjà atteint ?)" },
  step_not_function = { en = "step '%s': %s must be a function",
                        de = "Schritt '%s': %s muss eine Funktion sein",
                        fr = "étape '%s' : %s doit être une fonction" },
  runbook_needs_id = { en = "a runbook needs an id", de = "ein Runbook braucht eine id",
                       fr = "un runbook doit avoir un id" },
  runbook_needs_steps = { en = "a runbook needs steps = { … }",
                          de = "ein Runbook braucht steps = { … }",
                          fr = "un runbook doit avoir steps = { … }" },
  declarations_table = { en = "%s must be a table { name = { type = … } }",
                         de = "%s muss eine Tabelle { name = { type = … } } sein",
                         fr = "%s doit être une table { name = { type = … } }" },
  no_such_step = { en = "[runbook] %s has no step '%s' (its steps: %s)",
                   de = "[runbook] %s hat keinen Schritt '%s' (seine Schritte: %s)",
                   fr = "[runbook] %s n’a pas d’étape '%s' (ses étapes : %s)" },
  add_check_key = { en = "[runbook] %s: add_check('%s'): unknown key '%s' (before or after)",
                    de = "[runbook] %s: add_check('%s'): unbekannter Schlüssel '%s' (before "
                      .. "oder after)",
                    fr = "[runbook] %s : add_check('%s') : clé inconnue '%s' (before ou after)" },
  after_never_asked = {
    en = "[runbook] %s: step '%s' changes nothing (it has no run), so an after check would "
      .. "never be asked: use before",
    de = "[runbook] %s: Schritt '%s' ändert nichts (er hat kein run), eine after-Prüfung würde "
      .. "also nie gefragt: before verwenden",
    fr = "[runbook] %s : l’étape '%s' ne modifie rien (elle n’a pas de run), une vérification "
      .. "after ne serait donc jamais demandée : utilisez before" },
  not_a_definition = { en = "[runbook] extend: %s does not return a runbook definition",
                       de = "[runbook] extend: %s liefert keine Runbook-Definition",
                       fr = "[runbook] extend : %s ne renvoie pas de définition de runbook" },
  declaration_not_table = { en = "%s: a declaration is a table { type = … }",
                            de = "%s: eine Deklaration ist eine Tabelle { type = … }",
                            fr = "%s : une déclaration est une table { type = … }" },
  declaration_unknown_type = { en = "%s: unknown type %s%s (the types: %s)",
                               de = "%s: unbekannter Typ %s%s (die Typen: %s)",
                               fr = "%s : type inconnu %s%s (les types : %s)" },
  declaration_unknown_key = { en = "%s: unknown key '%s'%s",
                              de = "%s: unbekannter Schlüssel '%s'%s",
                              fr = "%s : clé inconnue '%s'%s" },
  declaration_wrong_type = { en = "%s: %s must be a %s, not %s",
                             de = "%s: %s muss vom Typ %s sein, nicht %s",
                             fr = "%s : %s doit être de type %s, pas %s" },
  declaration_default = { en = "%s: the default %s", de = "%s: Standardwert ungültig (%s)",
                          fr = "%s : valeur par défaut invalide (%s)" },
}
M.messages = messages

--- The yes-words of each language for confirmation prompts.
M.yes = { en = { y = true, yes = true }, de = { j = true, ja = true, y = true },
          fr = { o = true, oui = true, y = true } }

-- The language of the first locale variable that is set and not empty, if we have it.
local function from_locale()
  for _, name in ipairs { "LC_ALL", "LC_MESSAGES", "LANG" } do
    local value = os.getenv(name)
    if value and value ~= "" then
      local lang = value:match("^(%a%a)[_.@]") or value:match("^(%a%a)$")
      return messages.done[lang or ""] and lang or nil
    end
  end
end

--- setup(lang) -> the language: lang (from --lang), else the locale's, else "en"; "xx"
-- whenever RUNBOOK_PSEUDO_LOCALE=1 (tests/i18n_pseudo_spec.lua).
function M.setup(lang)
  M.lang = lang or from_locale() or "en"
  if os.getenv("RUNBOOK_PSEUDO_LOCALE") == "1" then M.lang = "xx" end
  return M.lang
end

-- A format's text between its directives (%s, %-8d, {name}) put between ⟦ and ⟧: the
-- pseudo-language's form of an English message.
local function pseudo(text)
  local out, at = {}, 1
  local function literal(piece)
    out[#out + 1] = piece:find("%S") and ("⟦" .. piece .. "⟧") or piece
  end
  while at <= #text do
    local first, last = text:find("%%[%-%d%.]*[%a%%]", at)
    local brace_first, brace_last = text:find("{%a+}", at)
    if brace_first and (not first or brace_first < first) then
      first, last = brace_first, brace_last
    end
    if not first then literal(text:sub(at)); break end
    literal(text:sub(at, first - 1))
    out[#out + 1] = text:sub(first, last)
    at = last + 1
  end
  return table.concat(out)
end

-- The entry's text in the current language (the pseudo-language marks the English).
local function text_of(entry)
  if M.lang == "xx" then return pseudo(entry.en or select(2, next(entry)) or "") end
  return entry[M.lang] or entry.en or select(2, next(entry)) or ""
end

--- t(key, ...) -> the message in the current language, formatted with ... when given
function M.t(key, ...)
  local entry = messages[key]
  local text = entry and text_of(entry) or key
  if select("#", ...) > 0 then return text:format(...) end
  return text
end

--- pick(text) -> a string from a string or an {en=, de=, fr=} table
function M.pick(text)
  if type(text) ~= "table" then return text and tostring(text) or "" end
  return text_of(text)
end

--- verbatim(text) -> text that is not ours, shown as it is in every language (what a server
-- or the system said); in the pseudo-language between ⟪ and ⟫, so that a test tells a
-- quotation from a text that bypassed the catalogues.
function M.verbatim(text)
  text = tostring(text)
  if M.lang == "xx" then return "⟪" .. text .. "⟫" end
  return text
end

--- catalogues: every catalogue made by M.catalogue, by name (tests/i18n_spec.lua checks that
-- each entry has en, de and fr with the same arguments).
M.catalogues = { ["runbook.i18n"] = messages }

--- catalogue(name, entries) -> say(key, ...): a module's own words, {key = {en=, de=, fr=}},
-- kept beside the module that says them; say formats the entry in the current language
-- (string.format's %-directives). An unknown key is a programming error and raises.
function M.catalogue(name, entries)
  M.catalogues[name] = entries
  return function(key, ...)
    local entry = entries[key]
    if not entry then error(("[i18n] %s has no message '%s'"):format(name, tostring(key)), 2) end
    if select("#", ...) > 0 then return text_of(entry):format(...) end
    return text_of(entry)
  end
end

function M.is_yes(answer)
  answer = (answer or ""):lower():match("^%s*(%S*)")
  return (M.yes[M.lang] or M.yes.en)[answer] == true
end

return M
