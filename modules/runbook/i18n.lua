--- runbook.i18n — the engine's own words in English, German and French. Step titles
-- come from the runbooks ({en=, de=, fr=}); this holds the rest: every message the engine
-- shows an operator is a key here, with all three languages. The language is --lang, else
-- the locale of messages as POSIX orders it: $LC_ALL, else $LC_MESSAGES, else $LANG
-- (de_DE.UTF-8 → de; an empty variable does not count), else English.
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
  skipped = { en = "skipped: already done", de = "übersprungen: bereits erledigt",
              fr = "ignoré : déjà fait" },
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

--- setup(lang) -> the language: lang (from --lang), else the locale's, else "en"
function M.setup(lang)
  M.lang = lang or from_locale() or "en"
  return M.lang
end

--- t(key, ...) -> the message in the current language, formatted with ... when given
function M.t(key, ...)
  local entry = messages[key]
  local text = entry and (entry[M.lang] or entry.en) or key
  if select("#", ...) > 0 then return text:format(...) end
  return text
end

--- pick(text) -> a string from a string or an {en=, de=, fr=} table
function M.pick(text)
  if type(text) ~= "table" then return text and tostring(text) or "" end
  return text[M.lang] or text.en or select(2, next(text)) or ""
end

function M.is_yes(answer)
  answer = (answer or ""):lower():match("^%s*(%S*)")
  return (M.yes[M.lang] or M.yes.en)[answer] == true
end

return M
