-- GSS-TSIG (RFC 3645) against a real BIND (tkey-gssapi-keytab) and a real MIT KDC
-- (tests/lab/kdc.sh): nsupdate -g, BIND's own client, proves the lab first; then the rfc2136
-- provider negotiates its key through TKEY (RFC 2930) with a password reference or a ccache
-- and signs its updates with the context's MIC; a principal the zone does not grant, a
-- principal the KDC does not know, a server whose keytab is stale (the context refused) and
-- a clock an hour off each say so; no password, token or key in any output.
-- Addresses: the KDC 127.0.88.2:8802; named 127.0.53.14:5314 (its keytab current) and
-- 127.0.53.14:5315 (its keytab stale).
local cjson = require "cjson"
local lab = require "helpers.servers"
local support = require "support"
support.unwind_fully()   -- runbook.gss loads gss-ntlmssp, whose leak tests/lsan.supp names
local task = require "runbook.task"
local quote = support.quote

local ADDRESS = "127.0.53.14"

describe("GSS-TSIG against BIND and a real KDC", function()
  local kdc, named, stale, dir, password_file

  setup(function()
    kdc = lab.start("kdc", "127.0.88.2", "8802")
    named = lab.start("named", ADDRESS, "5314", "gss", kdc.dns_keytab, kdc.user, kdc.krb5_conf)
    stale = lab.start("named", ADDRESS, "5315", "gss", kdc.dns_stale_keytab, kdc.user,
                      kdc.krb5_conf)
    dir = support.tmpdir()
    password_file = support.write(dir .. "/password", kdc.password)
    os.execute("chmod 600 " .. quote(password_file))
    require("runbook.gss").use_krb5_config(kdc.krb5_conf)
  end)
  teardown(function()
    lab.stop(stale)
    lab.stop(named)
    lab.stop(kdc)
    os.execute("rm -rf " .. quote(dir))
  end)

  local function dig(name, server)
    server = server or named
    return support.sh(("dig @%s -p %s +short +norecurse %s A"):format(server.address,
                                                                      server.port, name)).out
  end

  -- a ccache holding a ticket of user, got by kinit (MIT's own client)
  local function kinit(user, name)
    local ccache = dir .. "/" .. name
    local r = support.sh(("KRB5_CONFIG=%s KRB5CCNAME=FILE:%s kinit %s"):format(
      quote(kdc.krb5_conf), quote(ccache), quote(user)), kdc.password .. "\n")
    assert.equal(0, r.code, r.err)
    return "FILE:" .. ccache
  end

  local function config(key, server)
    server = server or named
    local gss = { gss = true, server_name = "ns1.runbook.test", principal = kdc.user,
                  credentials = "file:" .. password_file }
    for k, v in pairs(key or {}) do gss[k] = v end
    return { zone = "contoso.com", server = server.address, port = tonumber(server.port),
             key = gss, timeout = 3 }
  end

  local function set(cfg, name, address)
    return task.run(function()
      local p = require("dns.rfc2136").new(cfg)
      return p.set(name, "A", { { address = address } }, 300)
    end)
  end

  it("is proven by nsupdate -g: the granted principal changes the zone, another not", function()
    local function nsupdate(ccache, name)
      return support.sh(("KRB5_CONFIG=%s KRB5CCNAME=%s nsupdate -g"):format(
        quote(kdc.krb5_conf), quote(ccache)), ("server %s %s\nzone contoso.com\n"
        .. "update add %s 300 A 192.0.2.61\nsend\n"):format(named.address, named.port, name))
    end
    local r = nsupdate(kinit(kdc.user, "admin"), "nsupdate.contoso.com")
    assert.equal(0, r.code, r.err)
    assert.equal("192.0.2.61\n", dig("nsupdate.contoso.com"))
    r = nsupdate(kinit(kdc.other_user, "operator"), "refused.contoso.com")
    assert.not_equal(0, r.code)
    assert.matches("REFUSED", r.out .. r.err)
    assert.equal("", dig("refused.contoso.com"))
  end)

  it("negotiates with the password and changes a record, signed with the context", function()
    local result, message = set(config(), "sip.contoso.com", "192.0.2.71")
    assert.is_truthy(result, message)
    assert.is_true(result.changed)
    assert.equal("192.0.2.71\n", dig("sip.contoso.com"))
    assert.matches("key administrator\\@RUNBOOK.TEST: updating zone 'contoso.com/IN'",
                   support.slurp(named.log), 1, true)
  end)

  it("negotiates with a ccache, and prove() names the principal", function()
    local ccache = kinit(kdc.user, "admin-ccache")
    local cfg = config({ credentials = false, ccache = ccache })
    local proven, text = task.run(function()
      return require("dns.rfc2136").new(cfg).prove()
    end)
    assert.is_true(proven, text)
    assert.matches("accepts GSS-TSIG as administrator@RUNBOOK.TEST for zone contoso.com",
                   text, 1, true)
    local result, message = set(cfg, "edge1.contoso.com", "192.0.2.72")
    assert.is_truthy(result, message)
    assert.equal("192.0.2.72\n", dig("edge1.contoso.com"))
  end)

  it("says which principal the zone does not grant", function()
    local result, message, code = set(config({ principal = kdc.other_user }),
                                      "sip.contoso.com", "192.0.2.73")
    assert.is_nil(result)
    assert.equal("refused_update", code)
    assert.matches("answered REFUSED", message, 1, true)
    assert.matches("GSS-TSIG as operator@RUNBOOK.TEST: the zone must grant this principal",
                   message, 1, true)
    assert.not_equal("192.0.2.73\n", dig("sip.contoso.com"))
  end)

  it("says the KDC does not know a principal", function()
    local result, message, code = set(config({ principal = "nobody@RUNBOOK.TEST" }),
                                      "sip.contoso.com", "192.0.2.74")
    assert.is_nil(result)
    assert.equal("auth", code)
    assert.matches("Client not found in Kerberos database", message, 1, true)
    assert.matches("the KDC refused the user or the password", message, 1, true)
  end)

  it("says the DNS server refused the context when its keytab is stale", function()
    local result, message, code = set(config(nil, stale), "sip.contoso.com", "192.0.2.75")
    assert.is_nil(result)
    assert.equal("auth", code)
    assert.matches("refused the security context (TKEY error BADKEY)", message, 1, true)
    assert.matches("holds no key for DNS/ns1.runbook.test that matches the KDC's", message, 1,
                   true)
    assert.equal("192.0.2.10\n", dig("sip.contoso.com", stale))
  end)

  it("names a clock an hour off, and changes nothing", function()
    -- libfaketime and the sanitizer's runtimes hang together at start-up: the normal build
    local options = config()
    options.set = { name = "skew.contoso.com", address = "192.0.2.76" }
    local r = support.sh(("FAKETIME=+1h LD_PRELOAD=%s KRB5_CONFIG=%s LUA_PATH=%s LUA_CPATH=%s "
      .. "lua5.4 tests/helpers/gss_tsig_call.lua %s"):format(
      quote("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"), quote(kdc.krb5_conf),
      quote("modules/?.lua;modules/?/init.lua;tests/?.lua;;"), quote("build/lib/?.so;;"),
      quote(cjson.encode(options))))
    local ok, result = pcall(cjson.decode, r.out)
    assert(ok, r.out .. r.err)
    assert.equal("auth", result.code)
    assert.matches("signed 3[56]%d%d s behind this host's clock", result.error)
    assert.matches("synchronize the clocks", result.error, 1, true)
    assert.equal("", dig("skew.contoso.com"))
    assert.is_nil((r.out .. r.err):find(kdc.password, 1, true))
  end)

  it("shows no password, token or key in anything a run writes", function()
    local tokens = dir .. "/tokens"
    local script = support.write(dir .. "/leak.lua", ([[
      local dns = require "runbook.dns"
      local json = require("runbook.secrets").json
      local tkey = dns.tkey
      dns.tkey = function(options)   -- what was on the wire, for the test only
        local file = assert(io.open(%q, "ab"))
        file:write(require("powershell").base64(options.token), "\n")
        file:close()
        local answer, message, code = tkey(options)
        if answer then
          local out = assert(io.open(%q, "ab"))
          out:write(require("powershell").base64(answer.token), "\n")
          out:close()
        end
        return answer, message, code
      end
      require("runbook.gss").use_krb5_config(%q)
      local cfg = %s
      local p = require("dns.rfc2136").new(cfg)
      local result = assert(p.set("txt.contoso.com", "TXT", { { text = "leak test" } }, 300))
      print(result.diff)
      print(tostring(cfg.key.credentials), json(cfg))
      local key = require("dns.gss_tsig").negotiate { server = cfg.server, port = cfg.port,
        server_name = "ns1.runbook.test", principal = cfg.key.principal,
        password = require("runbook.secrets").resolve(cfg.key.credentials, "pw") }
      print(json({ name = key.name, expires = key.expires }), tostring(key.gss))
      cfg.key.principal = %q        -- a refusal's message, with everything it names
      local refused = require("dns.rfc2136").new(cfg)
      io.stderr:write(select(2, refused.set("sip.contoso.com", "A", {}, 1)) or "", "\n")
    ]]):format(tokens, tokens, kdc.krb5_conf, ("{ zone = 'contoso.com', server = %q, "
      .. "port = %s, key = { gss = true, server_name = 'ns1.runbook.test', principal = %q, "
      .. "credentials = %q } }"):format(named.address, named.port, kdc.user,
                                        "file:" .. password_file), kdc.other_user))
    local r = support.sh(("KRB5_CONFIG=%s %s -v run %s"):format(quote(kdc.krb5_conf),
      quote(support.bin), quote(script)))
    assert.equal(0, r.code, r.out .. r.err)
    assert.matches("leak test", r.out, 1, true)
    local output = r.out .. r.err
    assert.is_nil(output:find(kdc.password, 1, true))
    local seen = 0
    for token in support.slurp(tokens):gmatch("[^\n]+") do
      seen = seen + 1
      assert.is_nil(output:find(token, 1, true), "a token in the output")
      assert.is_nil(output:find(token:sub(9, 40), 1, true), "part of a token in the output")
    end
    assert.is_true(seen >= 4)   -- two negotiations: our token and the server's each
  end)
end)
