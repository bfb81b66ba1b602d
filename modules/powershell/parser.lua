--- powershell.parser — a recursive-descent parser of the PowerShell that modules/powershell.lua
-- generates, shared by the Lync emulator (modules/lab/emulator.lua) and the read proof
-- (modules/powershell/reads.lua), so both read every script with the same tokenizer
-- (modules/powershell/tokenizer.lua). What it cannot parse is a ParserError, exactly as a
-- script the generator should never produce. The grammar:
--   script    := statements
--   statement := 'try' block 'catch' block | 'exit' [pipeline] | $var '=' pipeline | pipeline
--   pipeline  := element { '|' command }      element := command | expr
--   command   := word { -Param[:] [arg] | arg }     (each after whitespace; -Param: glued)
--   expr      := postfix { ',' postfix }  postfix := primary { '.' Name [ args ] }
--   primary   := 'string' | number | $var | @( statements ) | @{ key = expr; ... }
--              | ( pipeline ) | [type] postfix | [type] '::' Name [ args ] | '-join' postfix
--              | { statements } (a script block) | word (a bareword, as an argument only)
--   args      := '(' [ expr ] ')'
-- The command name is the whole word PowerShell scans in command mode: `Get-X'\y'` names
-- the command Get-X\y. try, catch and exit are keywords in any case, as in PowerShell. The
-- static members and -join serve the bootstrap that reads a long script from stdin
-- (modules/powershell.lua). Pipelines and script blocks carry the projections runbook's reads
-- end with (`Get-X | ForEach-Object { [pscustomobject]@{ … } }`, modules/powershell/
-- projection.lua); $(), operators and the rest are not in the grammar.
local tokenizer = require "powershell.tokenizer"

local fail = tokenizer.fail

local M = {}

local ENDS = { sep = true, ["}"] = true, [")"] = true, ["|"] = true, eof = true }

local function shown(token)
  return tostring(token.value or token.kind)
end

--- parse(text) -> AST {kind="script", body={statements...}}; raises {parse_error=true, message=}
function M.parse(text)
  local at, cache = 1, nil   -- the byte after the last token taken; the last token peeked

  local function peek(mode)
    if not (cache and cache.at == at and cache.mode == mode) then
      cache = { at = at, mode = mode, token = tokenizer.scan(text, at, mode) }
    end
    return cache.token
  end
  local function take(mode)
    local token = peek(mode)
    at = token.next
    return token
  end
  local function expect(kind, mode)
    local token = take(mode)
    if token.kind ~= kind then
      fail(("'%s' expected, found '%s'"):format(kind, shown(token)), token.pos)
    end
    return token
  end

  local statements, pipeline, expr, postfix

  local function block()
    expect("{", "statement")
    local body = statements("}")
    expect("}", "statement")
    return body
  end

  local function hashtable()
    local pairs_list = {}
    while true do
      while peek("expression").kind == "sep" do take("expression") end
      if peek("expression").kind == "}" then break end
      local key = take("expression")
      if key.kind ~= "word" and key.kind ~= "string" then
        fail("a hashtable key was expected", key.pos)
      end
      expect("=", "expression")
      pairs_list[#pairs_list + 1] = { key = key.value, value = expr("statement") }
      local after = peek("expression")
      if after.kind ~= "sep" and after.kind ~= "}" then
        fail("';' or '}' expected in a hashtable", after.pos)
      end
    end
    expect("}", "expression")
    return { kind = "hashtable", pairs = pairs_list }
  end

  local function primary(mode)
    local token = take(mode)
    local kind = token.kind
    if kind == "string" or kind == "number" then
      return { kind = "literal", value = token.value }
    elseif kind == "word" and mode == "argument" then   -- argument mode: a bareword
      return { kind = "literal", value = token.value, bareword = true, quoted = token.quoted }
    elseif kind == "variable" then
      return { kind = "variable", name = token.value }
    elseif kind == "@(" then
      local body = statements(")")
      expect(")", "statement")
      return { kind = "array", body = body }
    elseif kind == "@{" then
      return hashtable()
    elseif kind == "(" then
      local inner = pipeline()
      expect(")", "statement")
      return { kind = "paren", inner = inner }
    elseif kind == "type" then
      local name, next_at = tokenizer.static(text, at)
      if name then
        at = next_at
        return { kind = "static", type = token.value, name = name }
      end
      return { kind = "cast", type = token.value, value = postfix("expression") }
    elseif kind == "{" then
      local body = statements("}")
      expect("}", "statement")
      return { kind = "scriptblock", body = body }
    elseif (kind == "param" or kind == "operator") and token.value:lower() == "join" then
      return { kind = "join", value = postfix("expression") }
    end
    fail(("unexpected '%s'"):format(shown(token)), token.pos)
  end

  -- ( [expr] ) right after a method name -> the argument nodes
  local function arguments()
    expect("(", "expression")
    if peek("expression").kind == ")" then take("expression"); return {} end
    local list = expr("expression")
    expect(")", "expression")
    return list.kind == "list" and list.items or { list }
  end

  function postfix(mode)
    local node = primary(mode)
    if node.kind == "static" and text:sub(at, at) == "(" then
      node = { kind = "call", type = node.type, name = node.name, args = arguments() }
    end
    while true do
      local name, next_at = tokenizer.member(text, at)
      if not name then break end
      at = next_at
      if text:sub(at, at) == "(" then
        node = { kind = "call", object = node, name = name, args = arguments() }
      else
        node = { kind = "member", object = node, name = name }
      end
    end
    return node
  end

  function expr(mode)
    local first = postfix(mode)
    local operators = mode == "argument" and "argument" or "expression"
    if peek(operators).kind ~= "," then return first end
    local items = { first }
    while peek(operators).kind == "," do
      take(operators)
      items[#items + 1] = postfix(operators)
    end
    return { kind = "list", items = items }
  end

  -- The next argument: after whitespace, unless it is the value of -Name: .
  local function next_argument(glued_allowed)
    local token = peek("argument")
    if not token.spaced and not glued_allowed then
      fail(("'%s' is glued to what precedes it"):format(shown(token)), token.pos)
    end
    return token
  end

  local function command()
    local name = take("statement")
    local node = { kind = "command", name = name.value, named = {}, order = {},
                   positional = {} }
    while not ENDS[peek("argument").kind] do
      local token = next_argument(false)
      if token.kind == "param" or token.kind == "param:" then
        take("argument")
        local value = { kind = "literal", value = true }
        if token.kind == "param:" then
          next_argument(true)
          value = expr("argument")
        else
          local after = peek("argument")
          if not (ENDS[after.kind] or after.kind == "param" or after.kind == "param:") then
            next_argument(false)
            value = expr("argument")
          end
        end
        for _, given in ipairs(node.order) do   -- parameter names are case-insensitive
          if given:lower() == token.value:lower() then
            fail("parameter -" .. token.value .. " given twice", token.pos)
          end
        end
        node.named[token.value] = value
        node.order[#node.order + 1] = token.value
      else
        node.positional[#node.positional + 1] = expr("argument")
      end
    end
    return node
  end

  local function element()
    if peek("statement").kind == "word" then return command() end
    return expr("statement")
  end

  function pipeline()
    local first = element()
    if peek("argument").kind ~= "|" then return first end
    local elements = { first }
    while peek("argument").kind == "|" do
      take("argument")
      while peek("statement").kind == "sep" and peek("statement").value == "\n" do
        take("statement")
      end
      if peek("statement").kind ~= "word" then
        fail("a command was expected after '|'", peek("statement").pos)
      end
      elements[#elements + 1] = command()
    end
    return { kind = "pipeline", elements = elements }
  end

  local function keyword(token)
    return token.kind == "word" and token.bare and token.value:lower()
  end

  local function statement()
    local token = peek("statement")
    if keyword(token) == "try" then
      take("statement")
      local body = block()
      while peek("statement").kind == "sep" and peek("statement").value == "\n" do
        take("statement")
      end
      local catch_word = take("statement")
      if keyword(catch_word) ~= "catch" then fail("'catch' expected", catch_word.pos) end
      return { kind = "try", body = body, catch = block() }
    elseif keyword(token) == "exit" then
      take("statement")
      local code = not ENDS[peek("statement").kind] and pipeline() or nil
      return { kind = "exit", code = code }
    elseif token.kind == "variable" then
      local equals = text:match("^[ \t]*()=", token.next)
      if equals and text:sub(equals + 1, equals + 1) ~= "=" then
        at = equals + 1
        return { kind = "assign", name = token.value, value = pipeline() }
      end
    end
    return pipeline()
  end

  function statements(closing)
    local body = {}
    while true do
      while peek("statement").kind == "sep" do take("statement") end
      local kind = peek("statement").kind
      if kind == closing or kind == "eof" then break end
      body[#body + 1] = statement()
      local after = peek("statement")
      if not ENDS[after.kind] then fail(("unexpected '%s'"):format(shown(after)), after.pos) end
    end
    return body
  end

  local body = statements("eof")
  expect("eof", "statement")
  return { kind = "script", body = body }
end

return M
