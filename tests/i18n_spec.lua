-- runbook.i18n (modules/runbook/i18n.lua): every message of the engine in en, de and fr,
-- formatted alike in each; the yes-words of each language.
local i18n = require "runbook.i18n"

-- The %-directives of a message, in order: each translation must take the same arguments.
local function directives(text)
  local found = {}
  for directive in text:gmatch("%%[%-%d%.]*[%a%%]") do found[#found + 1] = directive end
  return table.concat(found, " ")
end

-- The files of a tree whose path matches pattern (find(1), sorted).
local function files(root, pattern)
  local found, pipe = {}, io.popen("find " .. root .. " -name '*.lua' | sort")
  for path in pipe:lines() do
    if path:find(pattern) then found[#found + 1] = path end
  end
  pipe:close()
  return found
end

describe("i18n messages", function()
  it("has every message in en, de and fr, with the same arguments", function()
    local count = 0
    for key, entry in pairs(i18n.messages) do
      count = count + 1
      for _, lang in ipairs { "en", "de", "fr" } do
        assert.is_string(entry[lang], key .. " has no " .. lang)
        assert.equal(directives(entry.en), directives(entry[lang]), key .. " in " .. lang)
      end
    end
    assert.is_true(count > 20)
  end)

  -- The catalogues beside the modules (modules/*_messages.lua, modules/*/messages.lua):
  -- each registers itself with runbook.i18n when loaded.
  it("has every message of every module's catalogue in en, de and fr, alike", function()
    local names = {}
    for _, path in ipairs(files("modules", "_messages%.lua$")) do
      names[#names + 1] = path:match("^modules/(.*)%.lua$"):gsub("/", ".")
    end
    for _, path in ipairs(files("modules", "/messages%.lua$")) do
      names[#names + 1] = path:match("^modules/(.*)%.lua$"):gsub("/", ".")
    end
    assert.is_true(#names >= 6, table.concat(names, ", "))
    for _, name in ipairs(names) do require(name) end
    local count = 0
    for catalogue, entries in pairs(i18n.catalogues) do
      for key, entry in pairs(entries) do
        count = count + 1
        local where = catalogue .. ": " .. key
        for _, lang in ipairs { "en", "de", "fr" } do
          assert.is_string(entry[lang], where .. " has no " .. lang)
          assert.equal(directives(entry.en), directives(entry[lang]), where .. " in " .. lang)
        end
      end
    end
    assert.is_true(count > 100)
  end)

  -- A runbook's German and French titles and guidance (runbooks/*.titles.lua): every step
  -- of every shipped runbook has both, for its title and for its guidance if it has one,
  -- and the catalogue names no step that does not exist.
  it("has a German and a French title for every step of the shipped runbooks", function()
    local runbook = require "runbook"
    local words = runbook.translations("../runbooks/xmpp-federation.titles")
    local known = {}
    for _, name in ipairs { "xmpp-failover", "xmpp-failback", "xmpp-dr-readiness" } do
      local definition = assert(loadfile("runbooks/" .. name .. ".lua"))()
      local texts = { [name] = definition.title }
      for _, step in ipairs(definition.steps) do
        texts[step.id] = step.title
        if step.guidance then texts[step.id .. " guidance"] = step.guidance end
      end
      for id, text in pairs(texts) do
        known[id:gsub(" guidance$", "")] = true
        assert.is_table(text, id .. " has no translations")
        assert.is_string(text.en, id .. " has no English")
        for _, lang in ipairs { "de", "fr" } do
          assert.is_string(text[lang], id .. " has no " .. lang)
          assert.is_not.equal(text.en, text[lang], id .. " in " .. lang .. " is the English")
        end
      end
    end
    for id in pairs(words) do assert.is_true(known[id], id .. " is no runbook or step") end
  end)

  it("formats a message in the chosen language", function()
    i18n.setup("fr")
    assert.equal("2 modifiée(s), 1 déjà faite(s), 0 en échec", i18n.t("summary_counts", 2, 1, 0))
    i18n.setup("de")
    assert.equal("Vorabprüfung von Schritt 'x' fehlgeschlagen: y",
                 i18n.t("precheck_failed", "x", "y"))
    i18n.setup("en")
  end)

  it("takes o/oui in French and j/ja in German as yes", function()
    local cases = { { "fr", "oui", true }, { "fr", "o", true }, { "fr", "non", false },
                    { "de", "ja", true }, { "de", "n", false }, { "en", "", false } }
    for _, case in ipairs(cases) do
      i18n.setup(case[1])
      assert.equal(case[3], i18n.is_yes(case[2]), case[1] .. " " .. case[2])
    end
    i18n.setup("en")
  end)
end)

-- What `runbook check`, `run` and `resume` refuse, said in German and French; the file:line,
-- keys, option names and values stay as they were written.
describe("refusals in the operator's language", function()
  local support = require "support"
  local quote, write = support.quote, support.write
  local BOOKS = support.root .. "/tests/fixtures/books"
  local scratch

  -- The drill's inventory with `extra` lines; the state file is made by a run that needs it.
  local function drill_inventory(extra)
    write(scratch .. "/state.json", '{"route":"edge1","services":{"a":"running","b":"running",'
      .. '"c":"running"},"applied":{"-":0}}')
    return write(scratch .. "/inventory.lua", ([[
return {
  domain = "drill.test",
  state_file = %q,
  hosts = { "a", "b", "c" },
%s}
]]):format(scratch .. "/state.json", extra or "  new_route = \"edge2\",\n"))
  end

  -- Runs `runbook ARGS` in the scratch directory, English unless env or --lang say otherwise.
  local function drill(args, env)
    return support.sh(("cd %s && LC_ALL= LC_MESSAGES= LANG=C RUNBOOK_STATE_DIR=%s "
      .. "RUNBOOK_PATH=%s %s %s %s"):format(quote(scratch), quote(scratch .. "/state"),
      quote(BOOKS), env or "", quote(support.bin), args))
  end

  before_each(function() scratch = support.tmpdir() end)
  after_each(function() os.execute("rm -rf " .. quote(scratch)) end)

  local broken = {
    { "de", "inventory.lua:5: new_rout: unbekannter Schlüssel %(gemeint: 'new_route'%?%)",
      "inventory.lua:6: fail: erwartet: eine Zeichenkette, gefunden: 7" },
    { "fr", "inventory.lua:5: new_rout: clé inconnue %(vouliez%-vous dire 'new_route' %?%)",
      "inventory.lua:6: fail: attendu : une chaîne, trouvé : 7" },
  }
  for _, case in ipairs(broken) do
    it("names an unknown key and a wrong type with check --lang " .. case[1], function()
      drill_inventory('  new_rout = "edge2",\n  fail = 7,\n')
      local r = drill("check --lang " .. case[1] .. " -i inventory.lua drill")
      assert.equal(2, r.code, r.err)
      assert.matches(case[2], r.err)
      assert.matches(case[3], r.err)
    end)
  end

  it("follows LANG=fr_FR.UTF-8 when a required value is missing", function()
    write(scratch .. "/inventory.lua",
      'return {\n  domain = "drill.test",\n  hosts = { "a" },\n}\n')
    local r = drill("check -i inventory.lua --set route=edge2 drill", "LANG=fr_FR.UTF-8")
    assert.equal(2, r.code, r.err)
    assert.matches("inventory.lua:1: state_file: obligatoire : de type string", r.err)
  end)

  local credentials = {
    { "de", "password: %[secrets%] Umgebungsvariable DRILL_UNSET ist nicht gesetzt: vor der "
      .. "Ausführung exportieren" },
    { "fr", "password: %[secrets%] la variable d’environnement DRILL_UNSET n’est pas définie" },
  }
  for _, case in ipairs(credentials) do
    it("says an unusable credential at check --lang " .. case[1], function()
      drill_inventory('  new_route = "edge2",\n  password = "env:DRILL_UNSET",\n')
      local r = drill("check --lang " .. case[1] .. " -i inventory.lua drill", "DRILL_UNSET=")
      assert.equal(2, r.code, r.err)
      assert.matches("inventory.lua:6: " .. case[2], r.err)
    end)
  end

  local bad_sets = {
    { "de", "%-%-set nope=1: drill hat keinen Parameter 'nope' %(seine Parameter: route%)",
      "inventory.lua:6: params.route: erwartet: eine Zeichenkette, gefunden: 5" },
    { "fr", "%-%-set nope=1 : drill n’a pas de paramètre 'nope' %(ses paramètres : route%)",
      "inventory.lua:6: params.route: attendu : une chaîne, trouvé : 5" },
  }
  for _, case in ipairs(bad_sets) do
    it("refuses a bad --set in run --lang " .. case[1] .. ", before any change", function()
      drill_inventory('  new_route = "edge2",\n  params = { route = 5 },\n')
      local r = drill("run --yes --lang " .. case[1] .. " -i inventory.lua --set nope=1 drill")
      assert.equal(2, r.code, r.err)
      assert.matches(case[2], r.err)
      assert.matches(case[3], r.err)
    end)
  end

  local held = {
    { "de", "eine andere Ausführung von drill für drill%.test läuft bereits %(PID %d+, Sperre "
      .. ".*drill%-%-drill%.test%.lock%): ihr Ende abwarten" },
    { "fr", "une autre exécution de drill sur drill%.test est en cours %(pid %d+, verrou "
      .. ".*drill%-%-drill%.test%.lock%) : attendez sa fin" },
  }
  for _, case in ipairs(held) do
    it("says the lock is held in run --lang " .. case[1], function()
      drill_inventory()
      local lock = scratch .. "/state/locks/drill--drill.test.lock"
      os.execute("mkdir -p " .. quote(scratch .. "/state/locks"))
      -- flock(1) holds the lock while the run, which names itself as the holder, tries it
      local r = support.sh(("cd %s && RUNBOOK_STATE_DIR=state RUNBOOK_PATH=%s flock %s "
        .. "sh -c 'echo $$ >%s; exec %s run --yes --lang %s -i inventory.lua drill'"):format(
        quote(scratch), quote(BOOKS), quote(lock), quote(lock), quote(support.bin), case[1]))
      assert.equal(1, r.code, r.err)
      assert.matches(case[2], r.err)
    end)
  end

  local resumes = {
    { "de", "%.jsonl: diese Ausführung ist bereits beendet %(erledigt%): nichts fortzusetzen" },
    { "fr", "%.jsonl : cette exécution est déjà terminée %(terminé%) : rien à reprendre" },
  }
  for _, case in ipairs(resumes) do
    it("refuses to resume a finished run with resume --lang " .. case[1], function()
      drill_inventory()
      assert.equal(0, drill("run --yes -i inventory.lua drill").code)
      local r = drill("resume --yes --lang " .. case[1] .. " state/drill-*.jsonl")
      assert.equal(2, r.code, r.err)
      assert.matches(case[2], r.err)
    end)
  end

  it("says in French that a file is not a journal", function()
    write(scratch .. "/notes.txt", "not json\n")
    local r = drill("resume --lang fr notes.txt")
    assert.equal(2, r.code, r.err)
    assert.matches("notes%.txt : pas un journal de runbook", r.err)
  end)

  local definitions = {
    { "de", "%[runbook%] bad: Schritt 'one': unbekannter Schlüssel 'titel'",
      "{ id = 'one', titel = 'x', check = function() return true end }" },
    { "fr", "%[runbook%] bad: étape 'one' : clé inconnue 'titel'",
      "{ id = 'one', titel = 'x', check = function() return true end }" },
    { "de", "%[runbook%] bad: ein Schritt hat keine id %(jedem Schritt id = \"ein%-name\" geben%)",
      "{ check = 1 }" },
    { "fr", "%[runbook%] bad: une étape n’a pas d’id %(donnez à chaque étape id = \"un%-nom\"%)",
      "{ check = 1 }" },
  }
  for _, case in ipairs(definitions) do
    it("names a bad step of a runbook in check --lang " .. case[1], function()
      write(scratch .. "/bad.lua", ([[
local runbook = require "runbook"
local definition = {
  id = "bad", steps = { %s },
}
local bad = runbook.define(definition)
return bad
]]):format(case[3]))
      local r = drill("check --lang " .. case[1] .. " ./bad.lua")
      assert.equal(1, r.code, r.err)
      assert.matches(case[2], r.err)
      assert.matches("at %./bad%.lua:5:", r.err)
    end)
  end

  local extensions = {
    { "de", "custom.lua:2: %[runbook%] drill hat keinen Schritt 'nope' %(seine Schritte: ready, "
      .. "stop, route, start%)" },
    { "fr", "custom.lua:2: %[runbook%] drill n’a pas d’étape 'nope' %(ses étapes : ready, stop, "
      .. "route, start%)" },
  }
  for _, case in ipairs(extensions) do
    it("names an unknown step of an extension in check --lang " .. case[1], function()
      write(scratch .. "/custom.lua", 'local drill = require("runbook").extend "drill"\n'
        .. 'drill:insert_after("nope", { id = "x", check = function() return true end })\n'
        .. "return drill\n")
      local r = drill("check --lang " .. case[1] .. " ./custom.lua")
      assert.equal(1, r.code, r.err)
      assert.matches(case[2], r.err)
    end)
  end

  it("names a bad parameter declaration in French", function()
    write(scratch .. "/decl.lua", 'local runbook = require "runbook"\n'
      .. 'local definition = runbook.define { id = "decl",\n'
      .. '  params = { port = { type = "integr" } }, steps = {} }\nreturn definition\n')
    local r = drill("check --lang fr ./decl.lua")
    assert.equal(1, r.code, r.err)
    assert.matches("decl%.lua:2: %[runbook%] decl: params%.port : type inconnu 'integr' "
      .. "%(vouliez%-vous dire 'integer' %?%)", r.err)
  end)
end)
