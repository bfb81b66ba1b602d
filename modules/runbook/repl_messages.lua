--- runbook.repl_messages — what the REPL itself says (modules/runbook/repl.lua): its help,
-- its notes at start and its one line for a cancelled line, in English, German and French.
-- Lua names, calls and file names stay as they are.
local i18n = require "runbook.i18n"

return i18n.catalogue("repl", {
  greeting = {
    en = "runbook repl: Lua 5.4 inside the event loop; every primitive works here.\n"
      .. "=expr prints a value, Tab completes names, Ctrl-C cancels a line, Ctrl-D leaves.",
    de = "runbook repl: Lua 5.4 in der Ereignisschleife; jede Primitive funktioniert hier.\n"
      .. "=Ausdruck zeigt einen Wert, Tab ergänzt Namen, Strg-C bricht eine Zeile ab, "
      .. "Strg-D beendet.",
    fr = "runbook repl : Lua 5.4 dans la boucle d’événements ; chaque primitive fonctionne "
      .. "ici.\n=expression affiche une valeur, Tab complète les noms, Ctrl-C annule une "
      .. "ligne, Ctrl-D quitte." },
  simulated = {
    en = "[sim] the embedded lab: every answer is simulated",
    de = "[sim] das eingebaute Labor: jede Antwort ist simuliert",
    fr = "[sim] le labo intégré : chaque réponse est simulée" },
  ready = {
    en = "inventory %s: %s; help() says more",
    de = "Inventar %s: %s; help() sagt mehr",
    fr = "inventaire %s : %s ; help() en dit plus" },
  helpers_for = {
    en = "Incident helpers for %s; each prints a readable answer and returns the data:",
    de = "Helfer für den Störfall mit %s; jeder zeigt eine lesbare Antwort und gibt die "
      .. "Daten zurück:",
    fr = "Aides d’incident pour %s ; chacune affiche une réponse lisible et renvoie les "
      .. "données :" },
  example = { en = "e.g. %s", de = "z. B. %s", fr = "p. ex. %s" },
  no_helpers = {
    en = "No incident helpers: give an inventory (runbook repl -i FILE).",
    de = "Keine Helfer für den Störfall: nennen Sie ein Inventar (runbook repl -i DATEI).",
    fr = "Pas d’aides d’incident : donnez un inventaire (runbook repl -i FICHIER)." },
  primitives = {
    en = "Primitives (globals, loaded when first named):",
    de = "Primitive (globale Namen, beim ersten Nennen geladen):",
    fr = "Primitives (globales, chargées à leur première mention) :" },
  help_more = {
    en = "help(dig): one helper; help(dns): a primitive's functions; =expr prints a value; "
      .. "docs/repl.md",
    de = "help(dig): ein Helfer; help(dns): die Funktionen einer Primitive; =Ausdruck zeigt "
      .. "einen Wert; docs/repl.md",
    fr = "help(dig) : une aide ; help(dns) : les fonctions d’une primitive ; =expression "
      .. "affiche une valeur ; docs/repl.md" },
  no_help = {
    en = "no help for %s: help() lists the helpers",
    de = "keine Hilfe zu %s: help() listet die Helfer",
    fr = "pas d’aide pour %s : help() liste les aides" },
  cancelled = {
    en = "interrupted: the line was cancelled",
    de = "unterbrochen: die Zeile wurde abgebrochen",
    fr = "interrompu : la ligne a été annulée" },
})
