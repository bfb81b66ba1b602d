-- modules/powershell.lua: quoting, the wrapper script, -EncodedCommand, result parsing.
-- The emulator's parser (modules/powershell/parser.lua) reads every generated script back and
-- must find exactly the intended command and literal arguments.
local powershell = require "powershell"
local psparse = require "powershell.parser"
local support = require "support"

-- Values that would escape a badly quoted string.
local HOSTILE = {
  "O'Brien",
  "'; Remove-Item -Recurse C:\\ ; '",
  "$(Stop-Computer -Force)",
  "`$x`n`0",
  "a;b|c&d",
  "line1\nline2\r\nline3",
  "\u{2018}typographic\u{2019}",
  "\u{201A}low\u{201B}reversed",
  "'\u{2019}'\u{2018}",
  "'' '''",
  "$null",
  "@{a=1}",
  "#comment",
  "\"double\" \"$env:PATH\"",
  "",
  "emoji \u{1F600} and \u{E9}",
  "-Identity",
  " leading and trailing ",
  "}; exit 0; {",
}

describe("powershell", function()
  describe("quote_string", function()
    local cases = {
      { "plain", "'plain'" },
      { "O'Brien", "'O''Brien'" },
      { "$(x) `y` ;", "'$(x) `y` ;'" },
      { "\u{2018}a\u{2019}", "'\u{2018}\u{2018}a\u{2019}\u{2019}'" },
      { "\u{201A}\u{201B}", "'\u{201A}\u{201A}\u{201B}\u{201B}'" },
      { "", "''" },
    }
    for _, case in ipairs(cases) do
      it(("quotes %q"):format(case[1]), function()
        assert.equal(case[2], powershell.quote_string(case[1]))
      end)
    end

    it("doubles every quote character, so none is left alone", function()
      for _, value in ipairs(HOSTILE) do
        local body = powershell.quote_string(value):sub(2, -2)
        local stripped = body
        for _, q in ipairs { "'", "\u{2018}", "\u{2019}", "\u{201A}", "\u{201B}" } do
          stripped = stripped:gsub(q .. q, "")
          assert.is_nil(stripped:find(q, 1, true), value)
        end
      end
    end)
  end)

  describe("command", function()
    for _, value in ipairs(HOSTILE) do
      local shown = value:gsub("%c", function(c) return ("\\%d"):format(c:byte()) end)
      it(("keeps [%s] one literal argument"):format(shown), function()
        local text = powershell.command("Set-CsSite", { Identity = "Site2", Description = value })
        local tree = psparse.parse(text)
        assert.equal(1, #tree.body)
        local command = tree.body[1]
        assert.equal("command", command.kind)
        assert.equal("Set-CsSite", command.name)
        assert.same({ "Identity", "Description" }, command.order)
        assert.same({ kind = "literal", value = "Site2" }, command.named.Identity)
        assert.same({ kind = "literal", value = value }, command.named.Description)
        assert.same({}, command.positional)
      end)
    end

    it("writes numbers, booleans, null, lists and maps as literals", function()
      assert.equal("Get-X -Identity 'a' -Count 3 -Flag:$true -List @('a',2) "
                   .. "-Map @{'k'='v'} -Nothing $null -Ratio 0.5",
                   powershell.command("Get-X", { Identity = "a", Count = 3, Flag = true,
                                                 List = { "a", 2 }, Map = { k = "v" },
                                                 Nothing = powershell.null, Ratio = 0.5 }))
    end)

    it("refuses names that are not a cmdlet or a parameter", function()
      assert.has_error(function() powershell.command("Get-CsSite; rm", {}) end)
      assert.has_error(function() powershell.command("Get-CsSite", { ["a b"] = 1 }) end)
      assert.has_error(function() powershell.command("Get-CsSite", { ["a;b"] = 1 }) end)
      assert.has_error(function() powershell.command("Get-CsSite", { X = print }) end)
      assert.has_error(function() powershell.literal(0 / 0) end)
    end)
  end)

  describe("wrap", function()
    it("parses as one try/catch around the command", function()
      local tree = psparse.parse(powershell.wrap("Get-CsSite -Identity 'x'"))
      assert.equal("assign", tree.body[1].kind)   -- $ErrorActionPreference = 'Stop'
      assert.same({ kind = "literal", value = "Stop" }, tree.body[1].value)
      assert.equal("try", tree.body[3].kind)
      assert.equal(3, #tree.body)
    end)
  end)

  describe("encoding", function()
    it("matches iconv and base64 for -EncodedCommand", function()
      for _, value in ipairs(HOSTILE) do
        local r = support.sh("iconv -f UTF-8 -t UTF-16LE | base64 -w0", value)
        assert.equal(r.out, powershell.base64(powershell.utf16le(value)))
      end
    end)

    it("round-trips through base64 and UTF-16LE, astral characters included", function()
      for _, value in ipairs(HOSTILE) do
        local bytes = assert(powershell.unbase64(powershell.base64(powershell.utf16le(value))))
        assert.equal(value, powershell.from_utf16le(bytes))
      end
      assert.is_nil(powershell.from_utf16le("\0\216"))   -- lone high surrogate
    end)

    it("builds the powershell command line", function()
      local line = powershell.command_line("Get-CsSite")
      assert.equal("powershell -NoProfile -NonInteractive -EncodedCommand "
                   .. "RwBlAHQALQBDAHMAUwBpAHQAZQA=", line)
    end)

    it("sends a script too long for cmd.exe on stdin, behind a short bootstrap", function()
      local short = "Get-CsSite"
      local line, stdin = powershell.invocation(short)
      assert.equal(powershell.command_line(short), line)
      assert.is_nil(stdin)
      local long = "Set-CsSite -Identity 'Site2' -Description '" .. ("\u{20AC}"):rep(4000) .. "'"
      assert.is_true(#powershell.command_line(long) > powershell.MAX_COMMAND_LINE)
      line, stdin = powershell.invocation(long)
      assert.is_true(#line <= powershell.MAX_COMMAND_LINE)
      local bootstrap = powershell.from_utf16le(powershell.unbase64(line:match("%S+$")))
      assert.matches("FromBase64String(-join @($input))", bootstrap, 1, true)
      assert.equal(long, powershell.unbase64((stdin:gsub("\r\n", ""))))
      for piece in stdin:gmatch("[^\r\n]+") do assert.is_true(#piece <= 76) end
    end)
  end)

  describe("parse", function()
    it("returns the decoded list on success, JSON nulls dropped", function()
      local list = powershell.parse { stdout = '\239\187\191[{"a":1,"b":null}]\r\n',
                                      stderr = "", status = 0 }
      assert.same({ { a = 1 } }, list)
    end)

    it("returns the error record on exit 1", function()
      local list, record = powershell.parse {
        stdout = '{"message":"Access is denied.","category":"PermissionDenied",'
                 .. '"FullyQualifiedErrorId":"X"}', stderr = "", status = 1 }
      assert.is_nil(list)
      assert.same({ message = "Access is denied.", category = "PermissionDenied",
                    FullyQualifiedErrorId = "X" }, record)
    end)

    it("explains output that is not JSON", function()
      local list, record = powershell.parse { stdout = "", status = 127,
                                              stderr = "sh: powershell: not found" }
      assert.is_nil(list)
      assert.matches("powershell exited 127: sh: powershell: not found", record.message)
    end)
  end)

  describe("command_script and parse_framed", function()
    local BOUNDARY = ("0123456789abcdef"):rep(2)

    it("frames the answer, and command_pipeline finds the pipeline again", function()
      local script = powershell.command_script("Get-CsSite -Identity 'x'", BOUNDARY)
      assert.equal("exit", psparse.parse(script).body[#psparse.parse(script).body].kind)
      assert.same({ "Get-CsSite -Identity 'x'", BOUNDARY },
                  { powershell.command_pipeline(script) })
      assert.is_nil(powershell.command_pipeline(script .. "\nStop-Computer"))
      assert.is_nil(powershell.command_pipeline(powershell.wrap("Get-CsSite")))
    end)

    it("reads the frame whatever the console holds around it", function()
      local json = '[{"Name":"RTCSRV"}]'
      local frame = BOUNDARY .. " 0 " .. powershell.base64(json) .. "\r\n"
      local list = powershell.parse_framed({ stdout = "Service RTCSRV on edge1: Stopped\r\n{["
                                             .. frame .. "WARNING: x\r\n", stderr = "",
                                             status = 0 }, BOUNDARY)
      assert.same({ { Name = "RTCSRV" } }, list)
      local _, record = powershell.parse_framed({ stdout = json, stderr = "", status = 0 },
                                                BOUNDARY)
      assert.equal("runbook.NoJsonResult", record.FullyQualifiedErrorId)   -- no frame: unread
    end)
  end)
end)
