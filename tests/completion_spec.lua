-- Shell completion (runtime/completion/runbook.bash, runtime/completion/_runbook) and the
-- binary's hidden entry point behind it (modules/runbook/complete.lua): bash's _runbook is
-- called in a non-interactive bash with COMP_WORDS/COMP_CWORD set; zsh's completes a line
-- typed into an interactive `zsh -f` on a pseudo-terminal (zsh/zpty), which prints every
-- match compadd is given. The scripts call `runbook` on PATH: the binary under test's.
local support = require "support"
local write, quote = support.write, support.quote

local COMPLETION = support.root .. "/runtime/completion"
local BIN_DIR = support.bin:match("^(.*)/[^/]+$")
local COMMANDS = { "check", "history", "list", "plan", "repl", "report", "resume", "run",
                   "version" }

local scratch, harness          -- the shells' working directory; the test's own files
before_each(function() scratch, harness = support.tmpdir(), support.tmpdir() end)
after_each(function() os.execute("rm -rf " .. quote(scratch) .. " " .. quote(harness)) end)

local function lines(text)
  local found = {}
  for line in text:gmatch("[^\r\n]+") do found[#found + 1] = line end
  return found
end

local function sorted(list)
  local copy = table.move(list, 1, #list, 1, {})
  table.sort(copy)
  return copy
end

local function set_of(list)
  local set = {}
  for _, item in ipairs(list) do set[item] = true end
  return set
end

-- A runbook file declaring the parameters `ticket` and `dry`; `runbook list` shows it.
local function write_runbook(path)
  return write(path, [[
--- A runbook of the test's own RUNBOOK_PATH
local runbook = require "runbook"
return runbook.define {
  id = "mine",
  params = { ticket = { type = "string", description = "the change ticket" },
             dry = { type = "boolean" } },
  steps = { { id = "nothing", check = function() return true end } },
}
]])
end

-- A journal in dir: its start record, and a finish record when finished.
local function write_journal(dir, name, finished)
  local runbook = support.root .. "/runbooks/xmpp-failover.lua"
  local text = ('{"event":"start","runbook":%q,"runbook_id":"xmpp-failover",'
    .. '"time":"2026-11-23T14:00:00Z","pid":4242}\n'):format(runbook)
  if finished then text = text .. '{"event":"finish","ok":true}\n' end
  return write(dir .. "/" .. name, text)
end

-- How every shell starts: in the scratch directory (its ./ holds no runbook unless a test
-- writes one), HOME there too, no RUNBOOK_PATH or state directory but env's, the binary
-- under test first on PATH.
local function shell_prefix(env)
  return ("cd %s && HOME=%s XDG_STATE_HOME= RUNBOOK_PATH= RUNBOOK_STATE_DIR= PATH=%s:\"$PATH\" %s")
    :format(quote(scratch), quote(scratch), quote(BIN_DIR), env or "")
end

--- bash_complete(words [, env [, cursor]]) -> COMPREPLY of _runbook for the word at index
-- cursor of words (default: the last).
local function bash_complete(words, env, cursor)
  local quoted = {}
  for i, word in ipairs(words) do quoted[i] = quote(word) end
  local script = write(harness .. "/complete.bash", ([[
source %s/runbook.bash
COMP_WORDS=(%s)
COMP_CWORD=%d
_runbook
printf '%%s\n' "${COMPREPLY[@]}"
]]):format(quote(COMPLETION), table.concat(quoted, " "), (cursor or #words) - 1))
  local r = support.sh(shell_prefix(env) .. " bash --norc " .. quote(script))
  assert.equal(0, r.code, r.err)
  return lines(r.out)
end

-- Types a line and Tab into an interactive `zsh -f` that loaded _runbook with compinit,
-- and prints each match compadd is given (calls that only compute, with -O, -A or -D,
-- are passed through) as MATCH:word. Each step waits for what the shell prints.
local ZSH_DRIVER = [=[
zmodload zsh/zpty || exit 2
zpty shell zsh -f -i
zpty -w shell "PS1='' RPS1=''; fpath=(${(q)1} \$fpath); autoload -Uz compinit; compinit"
zpty -w shell 'bindkey "^I" complete-word'
zpty -w shell 'compadd() {
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return; fi
  local -a hits; local hit
  builtin compadd -A hits "$@"
  for hit in $hits; do print -r -- "${:-MA}TCH:$hit"; done
  builtin compadd "$@"
}'
zpty -w shell 'report_done() { print -r -- "${:-COMPLETION}-DONE"; exit }'
zpty -w shell 'comppostfuncs=(report_done)'
zpty -w shell 'print -r -- ${:-RE}ADY'
zpty -r shell line '*READY*' || exit 3
zpty -w -n shell "$2"$'\t'
while zpty -r shell line; do
  line=${line//[$'\r\n']/}
  [[ $line == *MATCH:* ]] && print -r -- ${line##*MATCH:}   # the first follows the line typed
  [[ $line == *COMPLETION-DONE* ]] && exit 0
done
exit 4
]=]

local zsh_home   -- ZDOTDIR: compinit's dump, written by the first test, read by the others

--- zsh_complete(line [, env]) -> the matches zsh's completion offers at the end of line.
local function zsh_complete(line, env)
  assert.equal(0, support.sh("command -v zsh").code,
    "zsh is missing: vendor/install.sh test installs it")
  local driver = write(harness .. "/driver.zsh", ZSH_DRIVER)
  local r = support.sh(("%s ZDOTDIR=%s timeout 30 zsh -f %s %s %s"):format(shell_prefix(env),
    quote(zsh_home), quote(driver), quote(COMPLETION), quote(line)))
  assert.equal(0, r.code, r.err .. r.out)
  return lines(r.out)
end

-- The long options `runbook COMMAND --help` lists.
local function options_in_help(command)
  local text = support.runbook(command .. " --help").out
  local options = {}
  for name in text:match("\noptions:\n(.-)\n\n"):gmatch("%-%-[%w-]+") do
    options[#options + 1] = name
  end
  return options
end

describe("bash completion", function()
  it("completes the commands `runbook --help` lists", function()
    local listed = {}
    for _, line in ipairs(lines(support.runbook("--help").out:match("\ncommands:\n(.-)\n\n"))) do
      listed[#listed + 1] = line:match("^  (%l+) ")
    end
    assert.same(sorted(listed), sorted(bash_complete { "runbook", "" }))
    assert.same(COMMANDS, sorted(listed))
    assert.same({ "resume", "report", "repl" }, bash_complete { "runbook", "re" })
  end)

  for _, command in ipairs(COMMANDS) do
    it("completes after `" .. command .. " --` exactly the options its --help lists", function()
      local offered = bash_complete { "runbook", command, "--" }
      assert.same(sorted(options_in_help(command)), sorted(offered))
    end)
  end

  it("offers each command only its own options", function()
    local run, list = set_of(bash_complete { "runbook", "run", "--" }),
      set_of(bash_complete { "runbook", "list", "--" })
    assert.is_true(run["--rollback"] and run["--set"] and run["--audit-log"])
    assert.is_nil(list["--set"])
    assert.same({ "--rollback" }, bash_complete { "runbook", "run", "--ro" })
  end)

  it("completes the values of --lang and --rollback, also after '='", function()
    assert.same({ "en", "de", "fr" }, bash_complete { "runbook", "run", "--lang", "" })
    assert.same({ "en", "de", "fr" }, bash_complete { "runbook", "run", "--lang", "=" })
    assert.same({ "de" }, bash_complete { "runbook", "plan", "--lang", "=", "d" })
    assert.same({ "ask", "auto", "never" }, bash_complete { "runbook", "run", "--rollback", "" })
  end)

  it("completes the Lua files and directories for -i, any file for --audit-log", function()
    write(scratch .. "/contoso.lua", "return {}")
    write(scratch .. "/notes.txt", "")
    os.execute("mkdir " .. quote(scratch .. "/estates"))
    assert.same({ "contoso.lua", "estates", "notes.txt" },
      sorted(bash_complete { "runbook", "run", "--audit-log", "" }))
    assert.same({ "contoso.lua", "estates" }, sorted(bash_complete { "runbook", "run", "-i", "" }))
    assert.same({ "contoso.lua" }, bash_complete { "runbook", "check", "--inventory", "=", "c" })
  end)

  it("completes the runbook names found in ./, $RUNBOOK_PATH and the installed ones", function()
    local extra = scratch .. "/extra"
    os.execute("mkdir " .. quote(extra))
    write_runbook(extra .. "/mine.lua")
    write(extra .. "/helpers.lua", "return {}")       -- a module, not a runbook
    local env = "RUNBOOK_PATH=" .. quote(extra)
    local offered = set_of(bash_complete({ "runbook", "run", "" }, env))
    for _, name in ipairs { "mine", "xmpp-failover", "xmpp-failback", "xmpp-dr-readiness" } do
      assert.is_true(offered[name], name)
    end
    assert.is_nil(offered.helpers)
    assert.same({ "mine" }, bash_complete({ "runbook", "check", "-i", "x.lua", "mi" }, env))
    assert.same({}, bash_complete { "runbook", "run", "mi" })   -- not on RUNBOOK_PATH now
  end)

  it("completes --set keys from the runbook's parameters and inventory schema", function()
    local offered = set_of(bash_complete { "runbook", "run", "xmpp-failover", "--set", "" })
    for _, key in ipairs { "to_pool=", "public_ip=", "service_timeout=", "dns.provider=",
                           "vantage.transport=", "lab.fault=", "servers.", "pools." } do
      assert.is_true(offered[key], key)
    end
    assert.is_nil(offered["domain="])          -- a top-level field is no --set key
    assert.same({ "dns.provider=" },   -- the runbook may come after the word completed
      bash_complete({ "runbook", "plan", "--set", "dns.prov", "xmpp-failover" }, nil, 4))
  end)

  it("completes the --set keys of the runbook named, not another's", function()
    write_runbook(scratch .. "/mine.lua")
    local offered = set_of(bash_complete { "runbook", "run", "mine", "--set", "" })
    assert.is_true(offered["ticket="] and offered["dry="])
    assert.is_nil(offered["to_pool="])
    assert.same({}, bash_complete { "runbook", "run", "--set", "" })   -- no runbook yet
  end)

  it("completes --set values the schema lists, after '='", function()
    local function after_set(...) return { "runbook", "run", "xmpp-failover", "--set", ... } end
    assert.is_true(set_of(bash_complete(after_set("lab.fault", "=", "")))["stuck-service"])
    assert.same({ "stuck-replication", "stuck-service" },
      sorted(bash_complete(after_set("lab.fault", "=", "stuck"))))
    assert.same({ "powerdns" }, bash_complete(after_set("dns.provider", "=", "p")))
    assert.same({ "ssh", "sim", "winrm", "local" },
      bash_complete(after_set("servers.edge2a.contoso.com.transport", "=", "")))
    assert.same({}, bash_complete(after_set("to_pool", "=", "")))   -- free text: nothing
  end)

  it("completes for resume the journals of unfinished runs in $RUNBOOK_STATE_DIR", function()
    local state = scratch .. "/state"
    os.execute("mkdir " .. quote(state))
    local open = write_journal(state, "xmpp-failover-20261123T140000Z-1.jsonl", false)
    write_journal(state, "xmpp-failover-20261123T150000Z-2.jsonl", true)
    write(state .. "/notes.txt", "")
    local env = "RUNBOOK_STATE_DIR=" .. quote(state)
    assert.same({ open }, bash_complete({ "runbook", "resume", "" }, env))
    local keys = set_of(bash_complete({ "runbook", "resume", open, "--set", "" }, env))
    assert.is_true(keys["to_pool="])           -- the journal's runbook's parameters
  end)
end)

describe("the hidden entry point", function()
  it("does not run a plain script named for --set keys", function()
    local marker = scratch .. "/ran"
    local script = write(scratch .. "/script.lua",
      ("io.open(%q, 'w'):close()\nrequire('runbook')\n"):format(marker))
    local r = support.sh(("_RUNBOOK_COMPLETE=set-keys %s check %s"):format(quote(support.bin),
      quote(script)))
    assert.equal(0, r.code, r.err)
    assert.equal("", r.out)
    assert.is_nil(io.open(marker))
  end)

  it("answers in place of the command and is not in --help", function()
    local r = support.sh(("cd %s && RUNBOOK_PATH= _RUNBOOK_COMPLETE=runbooks %s list")
      :format(quote(scratch), quote(support.bin)))
    assert.matches("^xmpp%-dr%-readiness\t[^\n]+\nxmpp%-failback\t", r.out)
    assert.is_nil(support.runbook("--help").out:find("complete", 1, true))
  end)
end)

describe("zsh completion", function()
  setup(function() zsh_home = support.tmpdir() end)
  teardown(function() os.execute("rm -rf " .. quote(zsh_home)) end)

  it("completes the commands", function()
    assert.same(COMMANDS, sorted(zsh_complete "runbook "))
  end)

  it("completes each command's own options", function()
    local run, list = set_of(zsh_complete "runbook run --"), zsh_complete "runbook list --"
    for _, option in ipairs(options_in_help("run")) do assert.is_true(run[option], option) end
    assert.same(sorted(options_in_help("list")), sorted(list))
  end)

  it("completes the values of --lang", function()
    assert.same({ "de", "en", "fr" }, sorted(zsh_complete "runbook run --lang="))
  end)

  it("completes the Lua files and directories for -i", function()
    write(scratch .. "/contoso.lua", "return {}")
    write(scratch .. "/notes.txt", "")
    os.execute("mkdir " .. quote(scratch .. "/estates"))
    assert.same({ "contoso.lua", "estates" }, sorted(zsh_complete "runbook check -i "))
  end)

  it("completes the runbook names, $RUNBOOK_PATH's too", function()
    local extra = scratch .. "/extra"
    os.execute("mkdir " .. quote(extra))
    write_runbook(extra .. "/mine.lua")
    local offered = set_of(zsh_complete("runbook run ", "RUNBOOK_PATH=" .. quote(extra)))
    assert.is_true(offered.mine and offered["xmpp-failover"] and offered["xmpp-failback"])
    assert.same({ "xmpp-failback", "xmpp-failover" }, sorted(zsh_complete "runbook plan xmpp-f"))
  end)

  it("completes --set keys and values", function()
    assert.same({ "lab.fault" }, zsh_complete "runbook run xmpp-failover --set lab.fau")
    assert.is_true(set_of(zsh_complete "runbook run xmpp-failover --set lab.fault=")
      ["stuck-service"])
  end)

  it("completes for resume the journals of unfinished runs", function()
    local state = scratch .. "/state"
    os.execute("mkdir " .. quote(state))
    local open = write_journal(state, "xmpp-failover-20261123T140000Z-1.jsonl", false)
    write_journal(state, "xmpp-failover-20261123T150000Z-2.jsonl", true)
    assert.same({ open }, zsh_complete("runbook resume ", "RUNBOOK_STATE_DIR=" .. quote(state)))
  end)
end)
