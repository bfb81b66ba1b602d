-- vendor/install.sh: installs what is missing and upgrades what is older than the
-- manifest's minimum, tested with a stub dpkg-query and apt-get (a fresh machine image
-- has older packages than a development machine). #vendor
local support = require "support"

-- A copy of vendor/install.sh beside a manifest of our own, and stubs first on PATH:
-- dpkg-query answers from $dir/versions ("package version" lines), apt-get appends its
-- arguments to $dir/apt.log and installs each named package at $dir/candidate's version.
local function fake_machine(manifest, versions, candidate)
  local dir = support.tmpdir()
  os.execute(("mkdir -p %s/vendor %s/bin && cp %s/vendor/install.sh %s/vendor/"):format(
    dir, dir, support.root, dir))
  support.write(dir .. "/vendor/packages.txt", manifest)
  support.write(dir .. "/versions", versions)
  support.write(dir .. "/candidate", candidate or "")
  support.write(dir .. "/bin/dpkg-query", ([[#!/bin/sh
for last; do :; done
version=$(awk -v p="$last" '$1 == p { v = $2 } END { print v }' %s/versions)
[ -n "$version" ] || exit 1
printf 'install ok installed %%s' "$version"
]]):format(dir))
  support.write(dir .. "/bin/apt-get", ([[#!/bin/sh
echo "$*" >>%s/apt.log
[ "$1" = install ] || exit 0
for word; do
  case "$word" in -*|install) ;; *) echo "$word $(cat %s/candidate)" >>%s/versions ;; esac
done
]]):format(dir, dir, dir))
  os.execute("chmod 755 " .. dir .. "/bin/*")
  return dir
end

local function install(dir, group)
  return support.sh(("PATH=%s/bin:$PATH sh %s/vendor/install.sh %s"):format(dir, dir, group))
end

describe("vendor/install.sh #vendor", function()
  local dir
  after_each(function() if dir then os.execute("rm -rf " .. support.quote(dir)) end end)

  it("upgrades a package older than the manifest's minimum", function()
    dir = fake_machine("build libexpat1-dev>=2.5.0-1+deb12u2 why\n",
      "libexpat1-dev 2.5.0-1+deb12u1\n", "2.5.0-1+deb12u5")
    local result = install(dir, "build")
    assert.equal(0, result.code, result.err)
    assert.matches("libexpat1%-dev 2%.5%.0%-1%+deb12u1 is older than 2%.5%.0%-1%+deb12u2: upgrading",
      result.err)
    assert.matches("install %-o DPkg::Lock::Timeout=%d+ %-y %-qq %-%-no%-install%-recommends libexpat1%-dev",
      support.slurp(dir .. "/apt.log"))
  end)

  it("fails, naming the minimum, when apt has nothing new enough", function()
    dir = fake_machine("build libexpat1-dev>=2.5.0-1+deb12u2 why\n",
      "libexpat1-dev 2.5.0-1+deb12u1\n", "2.5.0-1+deb12u1")
    local result = install(dir, "build")
    assert.equal(1, result.code)
    assert.matches("runbook needs 2%.5%.0%-1%+deb12u2 or later, which no configured apt source "
      .. "offers %(apt%-cache policy libexpat1%-dev%)", result.err)
  end)

  it("leaves a package at or above its minimum alone, and says nothing", function()
    dir = fake_machine("build libexpat1-dev>=2.5.0-1+deb12u2 why\nbuild make why\n",
      "libexpat1-dev 2.5.0-1+deb12u5\nmake 4.3-4.1\n")
    local result = install(dir, "build")
    assert.equal(0, result.code, result.err)
    assert.equal("", result.err .. result.out)
    assert.equal("", support.slurp(dir .. "/apt.log"))
  end)

  it("installs what is missing, only for the groups asked", function()
    dir = fake_machine("build make why\ntest lua-busted why\nbench nmap why\n", "make 4.3\n",
      "1.0")
    local result = install(dir, "test")
    assert.equal(0, result.code, result.err)
    assert.matches("installing: lua%-busted", result.err)
    local log = support.slurp(dir .. "/apt.log")
    assert.matches("lua%-busted", log)
    assert.is_nil(log:find("nmap", 1, true))
  end)
end)
