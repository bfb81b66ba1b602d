-- `make deb`: a Debian package built with Debian's tooling (debian/), lintian clean, that
-- runs the embedded failover from wherever it is unpacked, and installs and removes with
-- dpkg. Built once per run of this spec (about a minute); the sanitizer suite leaves it
-- out (tests/run.sh: it tests packaging, not memory). #deb
local support = require "support"

local function deb_file()
  return support.sh("ls " .. support.root .. "/build/deb/runbook_*.deb").out:match("[^\n]+")
end

describe("make deb #deb", function()
  local built, root, state

  setup(function()
    built = support.sh("cd " .. support.quote(support.root) .. " && make --no-print-directory deb")
    root = support.tmpdir()
    state = support.tmpdir()
  end)
  teardown(function() os.execute("rm -rf " .. support.quote(root) .. " " .. support.quote(state)) end)

  -- The unpacked package's runbook, run from / with a state directory of its own.
  local function unpacked_runbook(args)
    return support.sh(("cd / && RUNBOOK_STATE_DIR=%s %s/usr/bin/runbook %s"):format(
      support.quote(state), support.quote(root), args))
  end

  it("builds a package that lintian passes", function()
    assert.equal(0, built.code, built.out .. built.err)
    assert.matches("built: build/deb/runbook_[%d.]+_%w+%.deb", built.out)
  end)

  it("holds the binary, modules, runbooks, man page, documents and completion", function()
    local listing = support.sh("dpkg-deb -c " .. support.quote(deb_file())).out
    for _, path in ipairs {
      "./usr/bin/runbook", "./usr/lib/runbook/runbook/ssh.so",
      "./usr/share/runbook/modules/runbook/engine.lua",
      "./usr/share/runbook/runbooks/xmpp-failover.lua", "./usr/share/runbook/examples/lab.lua",
      "./usr/share/man/man1/runbook.1.gz", "./usr/share/doc/runbook/verification.md",
      "./usr/share/doc/runbook/copyright", "./usr/share/bash-completion/completions/runbook",
      "./usr/share/zsh/vendor-completions/_runbook",
    } do
      assert.truthy(listing:find(" " .. path .. "\n", 1, true), path .. " missing")
    end
    local man = support.sh("dpkg-deb --fsys-tarfile " .. support.quote(deb_file())
      .. " | tar -xOf - ./usr/share/man/man1/runbook.1.gz | gzip -dc")
    assert.matches("%.B winrm", man.out)
  end)

  it("unpacked anywhere, runs version, list and the embedded failover from /", function()
    assert.equal(0, support.sh(("dpkg-deb -x %s %s"):format(support.quote(deb_file()),
      support.quote(root))).code)
    local version = unpacked_runbook("version")
    assert.equal(0, version.code, version.err)
    assert.matches("^runbook %d", version.out)
    local list = unpacked_runbook("list")
    assert.equal(0, list.code, list.err)
    assert.matches("xmpp%-failover", list.out)
    local run = unpacked_runbook("run xmpp-failover.lua --yes")
    assert.equal(0, run.code, run.out .. run.err)
    assert.matches("all steps done", run.out)
  end)

  it("names the installed documents in its messages", function()
    local help = unpacked_runbook("repl --help")
    assert.equal(0, help.code, help.err)
    assert.truthy(help.out:find(root .. "/usr/share/doc/runbook/repl.md", 1, true), help.out)
    local plan = unpacked_runbook("plan xmpp-failover.lua")
    assert.truthy(plan.out:find(root .. "/usr/share/doc/runbook/verification.md", 1, true),
      plan.out)
  end)

  it("installs with dpkg -i and is removed again with dpkg -r", function()
    local installed = support.sh("dpkg -i " .. support.quote(deb_file()))
    assert.equal(0, installed.code, installed.out .. installed.err)
    local version = support.sh("/usr/bin/runbook version")
    local removed = support.sh("dpkg -r runbook")
    assert.equal(0, version.code, version.err)
    assert.equal(0, removed.code, removed.out .. removed.err)
    assert.is_false(support.sh("test -e /usr/bin/runbook").code == 0)
  end)
end)
