-- Kerberos for real (issue 17): an MIT KDC on loopback (tests/lab/kdc.sh: realm
-- RUNBOOK.TEST, HTTP/fe1.runbook.test in a keytab, users with passwords; its krb5.conf
-- turns off every DNS lookup and names the KDC by address) and the WS-Management emulator
-- accepting Kerberos with that keytab through MIT's GSS-API. runbook gets its ticket with
-- the password (no kinit) or from a ccache, and runs a command over HTTP with Kerberos
-- message encryption and over HTTPS bound to the TLS channel; a clock skew, a service
-- principal the KDC does not know, an expired ticket and a wrong password each say so.
-- The client runs in a process of its own (tests/helpers/winrm_call.lua): KRB5_CONFIG.
-- Addresses: the KDC 127.0.88.1:8800; emulators 127.0.23.75 (HTTP, as shipped), .76
-- (HTTPS, CbtHardeningLevel Strict), .79 (HTTP, its clock an hour ahead).
local cjson = require "cjson"
local lab = require "helpers.servers"
local powershell = require "powershell"
local support = require "support"
support.unwind_fully()   -- runbook.gss loads gss-ntlmssp, whose leak tests/lsan.supp names
local quote = support.quote

local SHIPPED, STRICT, SKEWED = "127.0.23.75", "127.0.23.76", "127.0.23.79"
local HOST = "fe1.runbook.test"
local GET_SITES = powershell.command_line(powershell.wrap(powershell.command("Get-CsSite", {})))

describe("WinRM with Kerberos from a real KDC", function()
  local kdc, shipped, strict, skewed

  setup(function()
    kdc = lab.start("kdc")
    shipped = lab.start("winrm", "--shipped", "--kerberos", kdc.dir, "auto", SHIPPED)
    strict = lab.start("winrm", "--cbt", "strict", "--kerberos", kdc.dir, "auto", STRICT)
    skewed = lab.start("winrm", "--shipped", "--kerberos", kdc.dir, "--clock", "+1h", "auto",
                       SKEWED)
  end)
  teardown(function()
    lab.stop(skewed)
    lab.stop(strict)
    lab.stop(shipped)
    lab.stop(kdc)
  end)

  local so_dir = os.getenv("RUNBOOK_SO_DIR") or "build/lib"
  -- the sanitizer build's modules need its runtimes preloaded, as busted has them
  -- (support.sh unsets LD_PRELOAD for the children it starts)
  local preload = ""
  if so_dir:find("asan", 1, true) then
    local runtimes = support.sh("gcc -print-file-name=libasan.so; "
                          .. "gcc -print-file-name=libubsan.so").out:gsub("\n", " ")
    preload = "LD_PRELOAD=" .. quote(runtimes)
  end

  -- call(instance, address, options, env, clock) -> the helper's JSON, and its whole output;
  -- clock: an offset for libfaketime, preloaded after the sanitizer's runtimes if any
  local function call(instance, address, options, env, clock)
    local o = { name = HOST, address = address, port = tonumber(instance.port),
                scheme = instance.scheme, auth = "kerberos", user = kdc.user,
                ca_file = instance.ca_file }
    for k, v in pairs(options or {}) do o[k] = v end
    -- under ASan: the runtimes preloaded, and tolerant of another preload coming first
    -- libfaketime and the sanitizer's runtimes hang together at start-up: a call with a
    -- clock runs the normal build's modules, in the sanitizer suite too
    local preloads, modules = preload, so_dir
    if clock then
      preloads = ("FAKETIME=%s LD_PRELOAD=%s"):format(quote(clock),
        quote("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"))
      modules = "build/lib"
    end
    local command = ("ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0:halt_on_error=1 "
                     .. "%s KRB5_CONFIG=%s LUA_PATH=%s LUA_CPATH=%s %s lua5.4 "
                     .. "tests/helpers/winrm_call.lua %s"):format(preloads, quote(kdc.krb5_conf),
      quote("modules/?.lua;modules/?/init.lua;tests/?.lua;;"), quote(modules .. "/?.so;;"),
      env or "", quote(cjson.encode(o)))
    local r = support.sh(command)
    local ok, result = pcall(cjson.decode, r.out)
    assert(ok, "winrm_call.lua printed no JSON:\n" .. r.out .. r.err)
    return result, r.out .. r.err
  end

  local function with_password(password)
    return "env WINRM_PASSWORD=" .. quote(password or kdc.password)
  end

  local function log_of(instance) return support.slurp(instance.log) end

  -- python3-winrm over requests_kerberos, an independent client, with a ticket from kinit
  local function pywinrm(instance, address, encryption)
    local ccache = "FILE:" .. kdc.ccache_dir .. "/pywinrm"
    local kinit = support.sh(("KRB5_CONFIG=%s KRB5CCNAME=%s kinit %s"):format(
      quote(kdc.krb5_conf), quote(ccache), quote(kdc.user)), kdc.password .. "\n")
    assert.equal(0, kinit.code, kinit.err)
    local words = { ("%s://%s:%s/wsman"):format(instance.scheme, address, instance.port),
                    "kerberos", kdc.user, "", instance.ca_file, GET_SITES, 20, "",
                    encryption }
    for i, word in ipairs(words) do words[i] = quote(word) end
    local r = support.sh(("KRB5_CONFIG=%s KRB5CCNAME=%s KERBEROS_HOST=%s /usr/bin/python3 "
                          .. "tests/lab/winrm_client.py %s"):format(quote(kdc.krb5_conf),
                          quote(ccache), HOST, table.concat(words, " ")))
    local ok, result = pcall(cjson.decode, r.out)
    assert(ok, "winrm_client.py printed no JSON:\n" .. r.out .. r.err)
    return result
  end

  it("proves the emulator's Kerberos acceptor with python3-winrm over HTTPS", function()
    local before = #log_of(strict)
    local result = pywinrm(strict, STRICT, "never")
    assert.equal(0, result.status, result.error)
    assert.equal("Site:Site1", cjson.decode(result.stdout)[1].Identity)
    assert.matches("auth ok kerberos administrator@RUNBOOK.TEST", log_of(strict):sub(before + 1),
                   1, true)
    -- Debian's python3-kerberos cannot seal WinRM messages: the shipped service refuses it
    local refused = pywinrm(shipped, SHIPPED, "never")
    assert.matches("^InvalidCredentialsError", refused.error)
    assert.matches("auth refused unencrypted", log_of(shipped), 1, true)
  end)

  -- the project's own python3-gssapi client (tests/lab/gssapi_winrm_client.py), with a ticket
  -- from kinit: Kerberos over HTTP with message encryption, which no Debian client does
  local function own_client(instance, address, plain)
    local ccache = "FILE:" .. kdc.ccache_dir .. "/own-client"
    local kinit = support.sh(("KRB5_CONFIG=%s KRB5CCNAME=%s kinit %s"):format(
      quote(kdc.krb5_conf), quote(ccache), quote(kdc.user)), kdc.password .. "\n")
    assert.equal(0, kinit.code, kinit.err)
    local r = support.sh(("KRB5_CONFIG=%s KRB5CCNAME=%s /usr/bin/python3 "
      .. "tests/lab/gssapi_winrm_client.py %s %s %s %s"):format(quote(kdc.krb5_conf),
      quote(ccache), quote(("http://%s:%s/wsman"):format(address, instance.port)), HOST,
      quote(GET_SITES), plain and "plain" or ""))
    local ok, result = pcall(cjson.decode, r.out)
    assert(ok, "gssapi_winrm_client.py printed no JSON:\n" .. r.out .. r.err)
    return result
  end

  it("proves the emulator's Kerberos sealing with the project's own python3-gssapi client",
     function()
    local before = #log_of(shipped)
    local result = own_client(shipped, SHIPPED)
    assert.equal(0, result.status, result.error)
    assert.equal("Site:Site1", cjson.decode(result.stdout)[1].Identity)
    local log = log_of(shipped):sub(before + 1)
    assert.matches("auth ok kerberos administrator@RUNBOOK.TEST", log, 1, true)
    local _, operations = log:gsub("\n[a-z]+ [%x%-]+", "")
    local _, sealed = log:gsub("sealed kerberos %d+", "")
    assert.is_true(operations >= 4, log)
    assert.equal(operations, sealed)           -- the emulator unsealed each request
    assert.equal(operations, result.sealed)    -- the client unsealed each answer
    -- the same client sending its envelopes unsealed: AllowUnencrypted = false refuses it
    before = #log_of(shipped)
    local refused = own_client(shipped, SHIPPED, true)
    assert.matches("HTTP 401", refused.error)
    assert.matches("auth refused unencrypted", log_of(shipped):sub(before + 1), 1, true)
  end)

  it("gets a ticket with the password and seals every message over HTTP", function()
    local before = #log_of(shipped)
    local result, output = call(shipped, SHIPPED, nil, with_password())
    assert.equal(0, result.status, result.error)
    assert.equal("Site:Site1", cjson.decode(result.stdout)[1].Identity)
    local log = log_of(shipped):sub(before + 1)
    assert.matches("auth ok kerberos administrator@RUNBOOK.TEST", log, 1, true)
    local _, operations = log:gsub("\n[a-z]+ [%x%-]+", "")
    local _, sealed = log:gsub("sealed kerberos %d+", "")
    assert.is_true(operations >= 5, log)
    assert.equal(operations, sealed)
    assert.is_nil(output:find(kdc.password, 1, true))
  end)

  it("binds to the TLS channel over HTTPS under CbtHardeningLevel Strict", function()
    local before = #log_of(strict)
    local result = call(strict, STRICT, nil, with_password())
    assert.equal(0, result.status, result.error)
    local log = log_of(strict):sub(before + 1)
    assert.matches("auth ok kerberos administrator@RUNBOOK.TEST", log, 1, true)
    assert.is_nil(log:find("sealed", 1, true))
  end)

  it("takes the ticket from a ccache, and says when it has expired", function()
    local ccache = "FILE:" .. kdc.ccache_dir .. "/operator-less"
    local kinit = support.sh(("KRB5_CONFIG=%s KRB5CCNAME=%s kinit %s"):format(
      quote(kdc.krb5_conf), quote(ccache), quote(kdc.user)), kdc.password .. "\n")
    assert.equal(0, kinit.code, kinit.err)
    local result = call(shipped, SHIPPED, { ccache = ccache })
    assert.equal(0, result.status, result.error)
    local expired = call(shipped, SHIPPED, { ccache = ccache }, nil, "+11h")
    assert.equal("auth", expired.code)
    assert.matches("Ticket expired (the Kerberos ticket has expired", expired.error, 1, true)
    local none = call(shipped, SHIPPED, { ccache = "FILE:" .. kdc.ccache_dir .. "/none" })
    assert.equal("auth", none.code)
    assert.matches("there is no ticket for the user", none.error, 1, true)
  end)

  it("names a clock skew between the server and the KDC", function()
    local result = call(skewed, SKEWED, nil, with_password())
    assert.equal("auth", result.code)
    assert.matches("Clock skew too great (the clocks of this machine, the KDC and the server "
                   .. "differ", result.error, 1, true)
    assert.matches("auth failed kerberos Clock_skew_too_great", log_of(skewed), 1, true)
  end)

  it("names a service principal the KDC does not know", function()
    local result = call(shipped, SHIPPED, { name = "fe9.runbook.test" }, with_password())
    assert.equal("auth", result.code)
    assert.matches("Server not found in Kerberos database (the KDC knows no service principal",
                   result.error, 1, true)
  end)

  it("names a wrong password, and never shows it", function()
    local wrong = "Wr0ng/+=pass"
    local result, output = call(shipped, SHIPPED, nil, with_password(wrong))
    assert.equal("auth", result.code)
    assert.matches("the KDC refused the user or the password", result.error, 1, true)
    assert.is_nil(output:find(wrong, 1, true))
  end)

  -- The emulator writes every Negotiate token on the wire, either way (tokens=): a run with
  -- -v that authenticates with Kerberos and with NTLM, and fails once, shows none of them.
  it("shows no authentication token in anything a run writes", function()
    local dir = support.tmpdir()
    local script = support.write(dir .. "/tokens.lua", ([[
      local secrets = require "runbook.secrets"
      local winrm = require "winrm"
      local password = secrets.resolve("env:KDC_PASSWORD", "the Kerberos password")
      local function show(label, result, message, code)
        print(label, result and result.status, result and result.stdout, message, code)
      end
      local base = { name = %q, address = %q, port = %s, scheme = "http" }
      local function with(fields)
        local options = {}
        for k, v in pairs(base) do options[k] = v end
        for k, v in pairs(fields) do options[k] = v end
        return options
      end
      show("kerberos", winrm.run(with { auth = "kerberos", user = %q,
                                        password = password.reveal() }, %q))
      show("ntlm", winrm.run(with { auth = "ntlm", user = %q, password = %q }, %q))
      show("refused", winrm.run(with { auth = "ntlm", user = %q, password = "Wr0ng/+=x" },
                                %q))
    ]]):format(HOST, SHIPPED, shipped.port, kdc.user, GET_SITES, shipped.user,
               shipped.password, GET_SITES, shipped.user, GET_SITES))
    assert(io.open(shipped.tokens, "w")):close()   -- the emulator appends to it
    local r = support.sh(("KRB5_CONFIG=%s KDC_PASSWORD=%s %s -v run %s"):format(
      quote(kdc.krb5_conf), quote(kdc.password), quote(support.bin), quote(script)))
    os.execute("rm -rf " .. quote(dir))
    local output = r.out .. r.err
    assert.matches("kerberos\t0\t", output)
    assert.matches("ntlm\t0\t", output)
    assert.matches("refused\tnil\tnil\t.*auth", output)
    local seen = 0
    for token in support.slurp(shipped.tokens):gmatch("[^\n]+") do
      seen = seen + 1
      assert.is_nil(output:find(token, 1, true), "a token in the output")
      assert.is_nil(output:find(token:sub(13, 44), 1, true), "part of a token in the output")
    end
    assert.is_true(seen >= 6, "the emulator saw " .. seen .. " tokens")
    assert.is_nil(output:find(kdc.password, 1, true))
  end)
end)
