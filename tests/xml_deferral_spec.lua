-- runtime/xml.c and Expat's reparse deferral: the setter is looked up at run time, so
-- xml.c builds against an expat.h that does not declare it (the machine image's Expat
-- 2.5.0-1+deb12u1) and still turns deferral off when the library has it (Debian's
-- deb12u2 backport and later, Expat 2.6.0 and later). #xml
local support = require "support"
local xml = require "runbook.xml"

local SETTER = "XML_SetReparseDeferralEnabled"
-- A stream as a peer sends it, one byte a write; no tag closes itself, so each '>' ends
-- exactly one tag and must bring exactly one event.
local STREAM = "<stream xmlns='jabber:server'><features><starttls xmlns='urn:ietf:params:xml" ..
  ":ns:xmpp-tls'><required></required></starttls><mechanisms><mechanism>EXTERNAL" ..
  "</mechanism></mechanisms></features>"

-- The offset of the first '>' after which its tag has not been reported yet (the parser
-- holds a complete tag back), or nil when every tag is reported the moment it is complete.
local function first_held_tag(parser_module)
  local parser = parser_module.parser()
  local tags_reported, tags_complete = 0, 0
  for offset = 1, #STREAM do
    local byte = STREAM:sub(offset, offset)
    for _, event in ipairs(assert(parser:feed(byte))) do
      if event.type ~= "text" then tags_reported = tags_reported + 1 end
    end
    if byte == ">" then
      tags_complete = tags_complete + 1
      if tags_reported < tags_complete then return offset end
    end
  end
end

-- The path of the libexpat this build is linked with, and whether it exports the setter.
local function linked_expat()
  local ldd = support.sh("ldd " .. support.root .. "/build/lib/runbook.so")
  local path = assert(ldd.out:match("libexpat%.so%.1 => (%S+)"), ldd.out)
  local symbols = support.sh("nm -D --defined-only " .. support.quote(path))
  assert.equal(0, symbols.code, symbols.err)
  return path, symbols.out:find(SETTER, 1, true) ~= nil
end

-- Builds runtime/xml.c alone into a Lua module with extra compiler flags and loads it.
local function build_xml_module(dir, flags)
  local so = dir .. "/xml.so"
  local built = support.sh(("cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fPIC -shared %s "
    .. "$(pkg-config --cflags lua5.4) %s/runtime/xml.c -o %s $(pkg-config --libs expat)")
    :format(flags, support.root, so))
  assert.equal(0, built.code, built.err)
  local open = assert(package.loadlib(so, "luaopen_runbook_xml"))
  return open()
end

describe("xml and Expat's reparse deferral #xml", function()
  local dir
  before_each(function() dir = support.tmpdir() end)
  after_each(function() os.execute("rm -rf " .. support.quote(dir)) end)

  it("says whether it turned deferral off, as the linked library's symbols say", function()
    local _, has_setter = linked_expat()
    assert.equal(has_setter and "off" or "absent", xml.reparse_deferral)
    assert.matches("^expat_%d", xml.expat_version)
  end)

  it("reports every tag the moment its last byte arrives", function()
    assert.is_nil(first_held_tag(xml))
  end)

  it("builds against an expat.h without the setter's declaration, and still finds it",
    function()
    -- A copy of the installed headers with the declaration taken out, as deb12u1 ships it.
    local header = support.slurp("/usr/include/expat.h")
    local without = header:gsub("XMLPARSEAPI%(XML_Bool%)%s*\n" .. SETTER .. "%b();", "")
    assert.is_nil(without:find(SETTER, 1, true))
    os.execute("mkdir -p " .. dir .. "/include")
    support.write(dir .. "/include/expat.h", without)
    support.write(dir .. "/include/expat_external.h",
      support.slurp("/usr/include/expat_external.h"))
    local module = build_xml_module(dir, "-I" .. dir .. "/include")
    local _, has_setter = linked_expat()
    assert.equal(has_setter and "off" or "absent", module.reparse_deferral)
    assert.is_nil(first_held_tag(module))
  end)

  it("without the setter, says so, and a stream fed byte by byte shows what the lookup prevents",
    function()
    local module = build_xml_module(dir, "-DEXPAT_DEFERRAL_SETTER='\"XML_NoSuchSetter\"'")
    assert.equal("absent", module.reparse_deferral)
    local _, has_setter = linked_expat()
    if has_setter then
      -- The library defers: a complete tag is now held back until more bytes come.
      assert.is_number(first_held_tag(module))
    else
      -- The library has no deferral to turn off: nothing is held back.
      assert.is_nil(first_held_tag(module))
    end
  end)
end)
