-- A differential corpus for the read classifier (modules/powershell/reads.lua) and the parser
-- it shares with the Lync emulator (modules/powershell/tokenizer.lua, parser.lua): a read and
-- a change combined through every separator, quote, comment, string and parameter construct,
-- each with the verdict PowerShell's own reading calls for. Every group names the part of the
-- PowerShell language specification (chapter 2, lexical structure) or of PowerShell's
-- tokenizer (tokenizer.cs, CharTraits.cs) it relies on. Where PowerShell would run the change,
-- the classifier must refuse; where the grammar cannot say what PowerShell does, it refuses
-- too, and the emulator, reading with the same code, reports a ParserError and runs nothing.
local emulator = require "lab.emulator"
local parser = require "powershell.parser"
local powershell = require "powershell"
local reads = require "powershell.reads"

local READ = "Get-CsSite -Identity 'Site2'"
local CHANGE = "Set-CsSite -Identity 'Site2' -Description 'moved'"   -- the emulator knows it
local BARE_CHANGE = "Remove-Item -Recurse -Path C:\\"   -- a change without quotes
local NOT_READ_SET = "Set%-CsSite is not a Get%-, Test%- or Resolve%- cmdlet"
local UNPARSED = "not PowerShell runbook can read through %(ParserError"

-- The classifier's verdict on a pipeline as the cmdlet layer would send it: true, or nil and
-- the reason.
local function verdict(pipeline)
  return reads.verify("powershell", powershell.invocation(powershell.wrap(pipeline)))
end

-- What the emulator does with the same pipeline as a script: its answer, and whether Site2
-- changed.
local function emulate(pipeline)
  local state = emulator.default_state("fe1.contoso.com")
  local result = emulator.run_script(pipeline, state)
  return result, state.sites[2].Description == "moved"
end

local function shown(text)
  return (text:gsub("[%c\128-\255]+", function(bytes)
    local out = {}
    for _, code in utf8.codes(bytes, true) do out[#out + 1] = ("<U+%04X>"):format(code) end
    return table.concat(out)
  end))
end

local function refused(pipeline, pattern)
  local ok, why = verdict(pipeline)
  assert.is_nil(ok, shown(pipeline) .. " was taken for a read")
  assert.matches(pattern, why)
end

local function proven(pipeline)
  local ok, why = verdict(pipeline)
  assert.is_true(ok, shown(pipeline) .. ": " .. tostring(why))
end

-- Characters PowerShell treats as whitespace or as part of a word, but that the grammar
-- refuses outside strings: every C0 control but tab, LF and CR (NUL included), DEL, every C1
-- control (U+0085 NEXT LINE among them), and the Unicode spaces and separators (U+00A0,
-- U+1680, U+2000-U+200A, U+2028 LINE SEPARATOR, U+2029 PARAGRAPH SEPARATOR, U+202F, U+205F,
-- U+3000), with the zero-width space and the byte-order mark.
local STRAYS = {}
for code = 0, 0x1F do
  if code ~= 9 and code ~= 10 and code ~= 13 then STRAYS[#STRAYS + 1] = utf8.char(code) end
end
for _, code in ipairs { 0x7F, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0x200B,
                        0xFEFF } do
  STRAYS[#STRAYS + 1] = utf8.char(code)
end
for code = 0x80, 0x9F do STRAYS[#STRAYS + 1] = utf8.char(code) end
for code = 0x2000, 0x200A do STRAYS[#STRAYS + 1] = utf8.char(code) end

local SINGLE_QUOTES = { "'", "\u{2018}", "\u{2019}", "\u{201A}", "\u{201B}" }
local DOUBLE_QUOTES = { '"', "\u{201C}", "\u{201D}", "\u{201E}" }

describe("the read classifier against PowerShell's reading", function()
  -- Language spec §2.2.2: a new-line-character is CR, LF or CR LF, and a statement ends at
  -- a new line or a semicolon (§8.1.1). A lone CR is a new line (issue 12, finding 4).
  describe("separators that end a statement", function()
    for _, separator in ipairs { "\n", "\r", "\r\n", ";", " ; ", "\n\n", "\r\r", ";\r\n" } do
      it(("%s: the change is its own statement, refused, and the emulator runs it")
           :format(shown(separator)), function()
        refused(READ .. separator .. CHANGE, NOT_READ_SET)
        local result, changed = emulate(READ .. separator .. CHANGE)
        assert.equal(0, result.status, result.stderr)
        assert.is_true(changed)
      end)
    end

    it("Get-Date, CR, Remove-Item is two statements (issue 12, finding 4)", function()
      local tree = parser.parse("Get-Date\rRemove-Item -Path 'C:\\important' -Recurse")
      assert.equal(2, #tree.body)
      assert.equal("Remove-Item", tree.body[2].name)
      refused("Get-CsSite\rRemove-Item -Path 'C:\\important' -Recurse",
              "Remove%-Item is not a Get%-")
    end)
  end)

  -- A pipeline (|) parses — the product's projected reads are pipelines — and the classifier
  -- refuses any the modules did not register as a template: the emulator runs it as
  -- PowerShell would, which is why the classifier must refuse it.
  describe("a pipeline into a change", function()
    for _, operator in ipairs { " | ", "|" } do
      it(("%s: refused as a pipeline"):format(operator), function()
        refused(READ .. operator .. CHANGE, "it contains a pipeline, which runbook cannot prove")
      end)
    end
  end)

  -- PowerShell 7's pipeline chains (&&, ||) and the call and background operator (&) are
  -- outside the grammar: the tokenizer refuses them where a token begins.
  describe("operators that join commands", function()
    for _, operator in ipairs { " && ", " || ", " & ", "&" } do
      it(("%s: refused, and the emulator runs nothing"):format(operator), function()
        refused(READ .. operator .. CHANGE, UNPARSED)
        local result, changed = emulate(READ .. operator .. CHANGE)
        assert.equal(1, result.status)
        assert.matches("ParserError", result.stderr)
        assert.is_false(changed)
      end)
    end
  end)

  -- CharTraits.cs: U+0085 and the Unicode separators are whitespace to PowerShell's tokenizer
  -- (IsWhitespace: NEXT LINE, NO-BREAK SPACE, char.IsSeparator), and the other controls are
  -- characters of a generic token; hosts and versions differ on them. Outside a string the
  -- grammar refuses every one: between two commands, between a command and its parameter,
  -- and inside a command name.
  describe("control and Unicode space characters outside strings", function()
    for _, stray in ipairs(STRAYS) do
      it(shown(stray) .. ": refused wherever it stands, and the emulator runs nothing", function()
        for _, pipeline in ipairs {
          READ .. stray .. CHANGE,
          "Get-CsSite" .. stray .. "-Identity 'Site2'",
          "Get-Cs" .. stray .. "Site",
          READ .. " " .. stray .. " " .. CHANGE,
        } do
          refused(pipeline, UNPARSED)
          local result, changed = emulate(pipeline)
          assert.equal(1, result.status)
          assert.matches("ParserError", result.stderr)
          assert.is_false(changed)
        end
      end)
    end
  end)

  -- §2.3.5.2 verbatim-string-characters: inside a single-quoted string every character but a
  -- single-quote-character is itself; newlines, controls and separators included.
  describe("inside single-quoted strings", function()
    local inside = { "\n", "\r", "\r\n", ";", "|", "&&", "#", "<#", "$(x)", "`", '"', "@'" }
    for _, stray in ipairs(STRAYS) do inside[#inside + 1] = stray end
    for _, character in ipairs(inside) do
      it(shown(character) .. " is part of the value", function()
        local value = "a" .. character .. CHANGE
        local pipeline = "Get-CsSite -Identity " .. powershell.quote_string(value)
        proven(pipeline)
        local tree = parser.parse(pipeline)
        assert.same({ kind = "literal", value = value }, tree.body[1].named.Identity)
        assert.is_false(select(2, emulate(pipeline)))
      end)
    end

    -- ScanStringLiteral: two single-quote-characters in a row, of any kinds, are the second
    -- of them; one alone ends the string.
    for _, first in ipairs(SINGLE_QUOTES) do
      for _, second in ipairs(SINGLE_QUOTES) do
        it(("%s%s inside a string is one %s"):format(shown(first), shown(second), shown(second)),
           function()
          local pipeline = "Get-CsSite -Identity 'a" .. first .. second .. "; "
                           .. BARE_CHANGE .. "'"
          proven(pipeline)
          assert.same({ kind = "literal", value = "a" .. second .. "; " .. BARE_CHANGE },
                      parser.parse(pipeline).body[1].named.Identity)
          assert.is_false(select(2, emulate(pipeline)))
        end)
      end
      it(("%s alone ends the string: what follows is PowerShell"):format(shown(first)), function()
        refused("Get-CsSite -Identity 'a" .. first .. "; " .. BARE_CHANGE .. "'", UNPARSED)
        refused("Get-CsSite -Identity 'a" .. first .. "; " .. BARE_CHANGE, "Remove%-Item is not")
      end)
    end

    it("an unterminated string is refused", function()
      refused("Get-CsSite -Identity 'Site2", UNPARSED)
    end)
  end)

  -- tokenizer.cs ScanGenericToken: in command mode a word runs to whitespace, a newline or
  -- one of & ( ) , ; { } |, and a single-quoted string inside it appends its content, so
  -- Get-X'\..\cmd.exe' names ONE command, Get-X\..\cmd.exe, which PowerShell resolves as a
  -- path (issue 12, finding 13). A command name must be exactly a listed cmdlet.
  describe("quotes glued to a command name", function()
    local TAIL = "\\..\\..\\..\\..\\Windows\\System32\\cmd.exe"
    local ARGUMENTS = " '/c' 'echo pwned> C:\\pwned.txt'"
    for _, quote in ipairs(SINGLE_QUOTES) do
      it(("%s: one word, no listed cmdlet, and the emulator knows no such command")
           :format(shown(quote)), function()
        local glued = "Get-CsSite" .. TAIL
        assert.equal(glued, parser.parse("Get-CsSite" .. quote .. TAIL .. quote).body[1].name)
        refused("Get-CsSite" .. quote .. TAIL .. quote .. ARGUMENTS,
                glued:gsub("%p", "%%%0") .. " is not on the list")
        refused("Get-X" .. quote .. TAIL .. quote .. ARGUMENTS, "Get%-X\\%.%..- is not on the list")
        refused("$r = Test-Path" .. quote .. TAIL .. quote .. ARGUMENTS, "Test%-Path\\")
        refused("exit Get-X" .. quote .. TAIL .. quote .. ARGUMENTS, "exit is no part of a read")
        refused("try { Get-X" .. quote .. TAIL .. quote .. " } catch { }", "try/catch is no part")
        local result = emulate("Get-CsSite" .. quote .. TAIL .. quote .. ARGUMENTS)
        assert.matches("The term '" .. glued:gsub("%p", "%%%0") .. "' is not recognized",
                       result.stderr)
      end)
    end
    for _, quote in ipairs(DOUBLE_QUOTES) do
      it(("%s: a word with an expandable string in it is refused"):format(shown(quote)),
         function()
        refused("Get-CsSite" .. quote .. TAIL .. quote .. ARGUMENTS, UNPARSED)
      end)
    end
    it("a $ or a backtick inside a word is refused (PowerShell expands them)", function()
      refused("Get-CsSite$x", UNPARSED)
      refused("Get-Cs`Site", UNPARSED)
      refused("Get-CsSite -Identity Site$x", UNPARSED)
    end)
  end)

  -- §2.2.3 comments: # and <# #> begin a comment where a token begins; inside a word #
  -- is an ordinary character (ScanGenericToken). Comments are outside the grammar.
  describe("comments", function()
    for _, pipeline in ipairs {
      READ .. " # " .. CHANGE, READ .. " #\n" .. CHANGE, "<# x #> " .. READ,
      "Get-CsSite <# x #> -Identity 'Site2'", READ .. "\n# " .. CHANGE, "#\r" .. CHANGE,
    } do
      it(shown(pipeline) .. " is refused", function() refused(pipeline, UNPARSED) end)
    end
    it("Get-CsSite#x is one word, no listed cmdlet", function()
      refused("Get-CsSite#x", "Get%-CsSite#x is not on the list")
    end)
  end)

  -- §2.3.5.2 expandable strings, here-strings, sub-expressions, §2.2.5 the backtick
  -- line continuation: all outside the grammar.
  describe("strings and expansions", function()
    for _, pipeline in ipairs {
      'Get-CsSite -Identity "Site2"', 'Get-CsSite -Identity "$(' .. CHANGE .. ')"',
      "Get-CsSite -Identity @'\nSite2\n'@", 'Get-CsSite -Identity @"\nSite2\n"@',
      "Get-CsSite -Identity $(" .. CHANGE .. ")", "Get-CsSite `\n-Identity 'Site2'",
      "Get-CsSite -Identity ${x}", "Get-CsSite @splat",
    } do
      it(shown(pipeline) .. " is refused", function() refused(pipeline, UNPARSED) end)
    end
  end)

  -- tokenizer.cs ScanParameter: in command mode a parameter runs to whitespace or one of
  -- { } ( ) ; , | & . [ and an ending :, takes any other character into its name, and turns
  -- into an argument when a quote follows; en dash, em dash and horizontal bar are dashes.
  describe("parameters", function()
    it("-Identity:'Site2' and -Identity: 'Site2' are reads", function()
      proven("Get-CsSite -Identity:'Site2'")
      proven("Get-CsSite -Identity: 'Site2'")
    end)
    for _, case in ipairs {
      { "Get-CsSite -Identity'Site2'", UNPARSED },          -- an argument -IdentitySite2
      { "Get-CsSite \u{2013}Identity 'Site2'", UNPARSED },   -- en dash
      { "Get-CsSite \u{2014}Identity 'Site2'", UNPARSED },   -- em dash
      { "Get-CsSite -Identity$x 'Site2'", UNPARSED },        -- parameter "Identity$x"
      { "Get-CsSite -Identity=x", UNPARSED },                -- parameter "Identity=x"
      { "Get-CsSite --% ; " .. CHANGE, UNPARSED },           -- stop-parsing
      { "Get-CsSite -Identity:", UNPARSED },
      { "Get-CsSite -Ident 'Site2'", "%-Ident of Get%-CsSite is not on the list" },
      { "Get-CsSite -Identity 'Site2'-Description 'x'", UNPARSED },   -- glued
      { "Get-CsSite(" .. CHANGE .. ")", UNPARSED },
      { "Get-CsSite -Identity 'Site2' -Identity 'Site1'", UNPARSED },
      { "Get-CsSite -Identity 'Site2' -identity 'Site1'", UNPARSED },
      { "Get-CsSite 'Site2'", "positional argument" },
      { "Get-CsSite Site2 " .. CHANGE, "positional argument" },
    } do
      it(shown(case[1]) .. " is refused", function() refused(case[1], case[2]) end)
    end
  end)

  -- Arguments that are not literals can run or read something: refused as values.
  describe("arguments that are expressions", function()
    for _, value in ipairs {
      "(" .. CHANGE .. ")", "@(" .. CHANGE .. ")", "$x", "$env:COMPUTERNAME",
      "[IO.File]::ReadAllText('C:\\x')", "{ " .. CHANGE .. " }", "@{ a = 'b' }",
      "('a' + 'b')",
    } do
      it(shown(value) .. " is refused", function()
        local ok, why = verdict("Get-CsSite -Identity " .. value)
        assert.is_nil(ok)
        assert.is_truthy(why:match(UNPARSED) or why:match("must be a quoted string"), why)
      end)
    end
  end)

  -- Statements the grammar knows besides commands: what a read may and may not contain.
  describe("statements", function()
    for _, case in ipairs {
      { "$s = " .. READ .. "; $s.Description", true },
      { "(" .. READ .. ").Description", true },
      { "@(" .. READ .. ")", true },
      { "$s = " .. CHANGE, NOT_READ_SET },
      -- about_Preference_Variables, about_Parameters_Default_Values: settings for what follows
      { "$PSDefaultParameterValues = @{ 'Get-CsWindowsService:ComputerName' = '\\\\evil' }; "
        .. "Get-CsWindowsService", "it sets %$PSDefaultParameterValues" },
      { "$psdefaultparametervalues = Get-CsSite", "it sets %$psdefaultparametervalues" },
      { "$ErrorActionPreference = 'Inquire'; " .. READ, "it sets %$ErrorActionPreference" },
      { "$ConfirmPreference = 'None'", "it sets %$ConfirmPreference" },
      { "$input = " .. READ, "it sets %$input" },
      { "(" .. READ .. ").Delete()", "calls the method Delete" },
      { "[IO.File]::Delete('C:\\x')", "calls the method %[IO%.File%]::Delete" },
      { "[IO.FileInfo]'C:\\x'", "converts a value to %[IO%.FileInfo%]" },
      { "try { " .. READ .. " } catch { }", "try/catch is no part of a read" },
      { "exit", "exit is no part of a read" },
      -- statements the grammar reads as commands named if and function: not on the list
      { "if ($true) { " .. CHANGE .. " }", "if is not a Get%-" },
      { "function Get-CsSite { " .. CHANGE .. " }; " .. READ, "function is not a Get%-" },
      { "gci", "gci is not a Get%-" },
    } do
      it(shown(case[1]) .. (case[2] == true and " is a read" or " is refused"), function()
        if case[2] == true then proven(case[1]) else refused(case[1], case[2]) end
      end)
    end
  end)
end)
