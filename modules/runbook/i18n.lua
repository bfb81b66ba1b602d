--- runbook.i18n — the engine's own words in English, German and French. Step titles
-- come from the runbooks ({en=, de=, fr=}); this holds the rest. The language is --lang,
-- else $LANG (de_DE.UTF-8 → de), else English.
local M = { lang = "en" }

local messages = {
  plan_header = { en = "Plan", de = "Plan", fr = "Plan" },
  run_header = { en = "Run", de = "Ausführung", fr = "Exécution" },
  already = { en = "already done", de = "bereits erledigt", fr = "déjà fait" },
  will_change = { en = "will change", de = "wird geändert", fr = "sera modifié" },
  pending = { en = "checked again after the earlier steps", de = "wird nach den vorigen Schritten erneut geprüft",
              fr = "vérifié à nouveau après les étapes précédentes" },
  would_fail = { en = "cannot proceed", de = "kann nicht fortfahren", fr = "impossible de continuer" },
  skipped = { en = "skipped: already done", de = "übersprungen: bereits erledigt",
              fr = "ignoré : déjà fait" },
  done = { en = "done", de = "erledigt", fr = "terminé" },
  failed = { en = "FAILED", de = "FEHLGESCHLAGEN", fr = "ÉCHEC" },
  confirm = { en = "Proceed with these changes? [y/N] ", de = "Diese Änderungen ausführen? [j/N] ",
              fr = "Effectuer ces modifications ? [o/N] " },
  confirm_step = { en = "Carry out this step? [y/N] ", de = "Diesen Schritt ausführen? [j/N] ",
                   fr = "Exécuter cette étape ? [o/N] " },
  declined = { en = "declined: nothing was changed", de = "abgelehnt: nichts wurde geändert",
               fr = "refusé : rien n'a été modifié" },
  no_changes = { en = "nothing to change", de = "nichts zu ändern", fr = "rien à modifier" },
  summary_ok = { en = "all steps done", de = "alle Schritte erledigt",
                 fr = "toutes les étapes terminées" },
  summary_failed = { en = "stopped at a failed step", de = "bei einem fehlgeschlagenen Schritt angehalten",
                     fr = "arrêté à une étape en échec" },
  rollback = { en = "rolling back", de = "wird zurückgesetzt", fr = "annulation" },
  rollback_ask = { en = "Roll back the completed steps? [y/N] ",
                   de = "Die erledigten Schritte zurücksetzen? [j/N] ",
                   fr = "Annuler les étapes terminées ? [o/N] " },
  simulation = { en = "SIMULATION — embedded lab, no real server is touched",
                 de = "SIMULATION — eingebettetes Labor, kein echter Server wird berührt",
                 fr = "SIMULATION — laboratoire intégré, aucun serveur réel n'est touché" },
  journal = { en = "journal", de = "Journal", fr = "journal" },
  resume_hint = { en = "resume with", de = "fortsetzen mit", fr = "reprendre avec" },
  verify_failed = { en = "verification failed", de = "Überprüfung fehlgeschlagen",
                    fr = "échec de la vérification" },
}

--- The yes-words of each language for confirmation prompts.
M.yes = { en = { y = true, yes = true }, de = { j = true, ja = true, y = true },
          fr = { o = true, oui = true, y = true } }

function M.setup(lang)
  local from_env = (os.getenv("LC_ALL") or os.getenv("LANG") or ""):match("^(%a%a)")
  M.lang = lang or (messages.done[from_env or ""] and from_env) or "en"
  return M.lang
end

--- t(key) -> the message in the current language
function M.t(key)
  local entry = messages[key]
  return entry and (entry[M.lang] or entry.en) or key
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
