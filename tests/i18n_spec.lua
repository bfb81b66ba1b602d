-- runbook.i18n (modules/runbook/i18n.lua): every message of the engine in en, de and fr,
-- formatted alike in each; the yes-words of each language.
local i18n = require "runbook.i18n"

-- The %-directives of a message, in order: each translation must take the same arguments.
local function directives(text)
  local found = {}
  for directive in text:gmatch("%%[%-%d%.]*[%a%%]") do found[#found + 1] = directive end
  return table.concat(found, " ")
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
