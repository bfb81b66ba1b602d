--- layering — checks which Lua module may require which, over a source tree.
--
-- Three layers, lowest first: the engine (modules/runbook/: generic, knows no product),
-- the product (every other module, the runbooks and the examples), the lab (the simulated
-- estate: emulators, simulated network and DNS). A file may require its own layer and the
-- layers below it; an upward require is an error. So is a cycle between modules of the
-- tree, and a require inside a function without a comment saying why (the usual way to
-- hide a cycle). Requires of modules outside the tree (cjson, C primitives) are not
-- checked.
--
--   lua5.4 tests/helpers/layering.lua [ROOT]     prints one line per problem, exit 1 if any
--   require("helpers.layering").check(root)      -> list of {file=, line=, message=}
local M = {}

-- The layers, by path relative to the root; the first match wins.
M.LAYERS = {
  { name = "engine", rank = 1, match = { "^modules/runbook/" } },
  { name = "lab", rank = 3, match = { "^modules/lab/" } },
  { name = "product", rank = 2, match = { "^modules/", "^runbooks/", "^examples/" } },
}

local function layer_of(path)
  for _, layer in ipairs(M.LAYERS) do
    for _, pattern in ipairs(layer.match) do
      if path:find(pattern) then return layer end
    end
  end
end

local function read(path)
  local file = io.open(path, "rb")
  if not file then return nil end
  local text = file:read("*a")
  file:close()
  return text
end

local function list_lua_files(root)
  local files = {}
  local pipe = io.popen("cd '" .. root .. "' && find modules runbooks examples -name '*.lua' "
    .. "2>/dev/null | LC_ALL=C sort")
  for line in pipe:lines() do files[#files + 1] = line end
  pipe:close()
  return files
end

-- The module name a file answers to (modules/lab/dns.lua -> dns.sim, a/init.lua -> a);
-- nil for runbooks and examples, which nothing requires.
local function module_name(path)
  local name = path:match("^modules/(.+)%.lua$")
  if not name then return nil end
  return (name:gsub("/init$", ""):gsub("/", "."))
end

-- Lua's block words: what opens a block that `end` (or `until`) closes.
local OPENS = { ["function"] = true, ["do"] = true, ["if"] = true, ["repeat"] = true }
local CLOSES = { ["end"] = true, ["until"] = true }

-- Skips a string or comment starting at i; returns the index after it, or nil if none
-- starts there.
local function skip_literal(text, i)
  local long = text:match("^%-%-%[(=*)%[", i)
  if long then
    local _, stop = text:find("]" .. long .. "]", i, true)
    return (stop or #text) + 1
  end
  if text:find("^%-%-", i) then
    return (text:find("\n", i, true) or #text) + 1
  end
  long = text:match("^%[(=*)%[", i)
  if long then
    local _, stop = text:find("]" .. long .. "]", i, true)
    return (stop or #text) + 1
  end
  local quote = text:match("^[\"']", i)
  if quote then
    local j = i + 1
    while j <= #text do
      local c = text:sub(j, j)
      if c == "\\" then j = j + 2
      elseif c == quote or c == "\n" then return j + 1
      else j = j + 1 end
    end
    return j
  end
end

local function line_at(text, i)
  local _, count = text:sub(1, i):gsub("\n", "")
  return count + 1
end

local function has_comment(lines, line)
  return (lines[line] or ""):find("%-%-") or (lines[line - 1] or ""):find("^%s*%-%-")
end

--- requires(text) -> list of {name=, line=, in_function=, commented=}: every
-- `require "name"` / `require("name")` with a literal name, and whether it sits inside a
-- function body.
function M.requires(text)
  local found, stack, lines = {}, {}, {}
  for l in (text .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = l end
  local function in_function()
    for _, word in ipairs(stack) do if word == "function" then return true end end
    return false
  end
  local i = 1
  while i <= #text do
    local after = skip_literal(text, i)
    if after then
      i = after
    else
      local start, stop, word = text:find("^([%a_][%w_]*)", i)
      if not start then
        i = i + 1
      elseif text:sub(i - 1, i - 1):find("[%.:]") then
        i = stop + 1 -- a field named like a keyword (t.end is not valid Lua, t.do neither)
      else
        if OPENS[word] then
          stack[#stack + 1] = word
        elseif CLOSES[word] then
          stack[#stack] = nil
        elseif word == "require" then
          local name, rest = text:match("^%s*%(?%s*[\"']([%w_%.%-]+)[\"']%s*(%.?%.?)", stop + 1)
          if name and rest ~= ".." then -- "dns." .. kind is a name built at run time
            local line = line_at(text, i)
            found[#found + 1] = { name = name, line = line, in_function = in_function(),
              commented = has_comment(lines, line) ~= nil }
          end
        end
        -- `while c do` and `for … do` open once, at `do`; `if … then`, at `if`.
        i = stop + 1
      end
    end
  end
  return found
end

local function find_cycle(graph)
  local state, path = {}, {}
  local function visit(node)
    state[node] = "open"
    path[#path + 1] = node
    for _, next_node in ipairs(graph[node] or {}) do
      if state[next_node] == "open" then
        local cycle, start = {}, nil
        for k, name in ipairs(path) do if name == next_node then start = k end end
        for k = start, #path do cycle[#cycle + 1] = path[k] end
        cycle[#cycle + 1] = next_node
        return cycle
      elseif not state[next_node] then
        local cycle = visit(next_node)
        if cycle then return cycle end
      end
    end
    path[#path] = nil
    state[node] = "done"
  end
  local names = {}
  for name in pairs(graph) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    if not state[name] then
      local cycle = visit(name)
      if cycle then return cycle end
    end
  end
end

--- check(root) -> problems: every upward require, the first cycle, every uncommented
-- function-local require, under root.
function M.check(root)
  local problems, files, by_module, graph = {}, list_lua_files(root), {}, {}
  for _, path in ipairs(files) do
    local name = module_name(path)
    if name then by_module[name] = path end
  end
  local function problem(file, line, message)
    problems[#problems + 1] = { file = file, line = line, message = message }
  end
  for _, path in ipairs(files) do
    local layer = layer_of(path)
    local node = module_name(path) or path
    graph[node] = graph[node] or {}
    for _, req in ipairs(M.requires(read(root .. "/" .. path) or "")) do
      local target = by_module[req.name]
      if target then
        local target_layer = layer_of(target)
        if layer and target_layer and target_layer.rank > layer.rank then
          problem(path, req.line, ("%s code requires %s module %q"):format(
            layer.name, target_layer.name, req.name))
        end
        table.insert(graph[node], req.name)
      end
      if req.in_function and not req.commented then
        problem(path, req.line, ("require %q inside a function without a comment saying "
          .. "why"):format(req.name))
      end
    end
  end
  local cycle = find_cycle(graph)
  if cycle then
    problem(by_module[cycle[1]] or cycle[1], nil, "require cycle: " .. table.concat(cycle, " -> "))
  end
  return problems
end

function M.format(problem)
  return ("%s%s: %s"):format(problem.file, problem.line and ":" .. problem.line or "",
    problem.message)
end

if arg and arg[0] and arg[0]:find("layering%.lua$") then
  local problems = M.check(arg[1] or ".")
  for _, p in ipairs(problems) do io.stderr:write(M.format(p), "\n") end
  os.exit(#problems == 0 and 0 or 1)
end

return M
