-- Markdown of docs/ -> man page: level-1 headings are the documents' titles (the man page takes
-- its title from the metadata), so they are dropped and every other level moves up one (## is
-- .SH); links to other pages become their text; tables get column widths that fit 80 columns.
local stringify = pandoc.utils.stringify

function Header(h)
  if h.level == 1 then return {} end
  h.level = h.level - 1
  return h
end

function Link(l)
  if l.target:match("^https?:") then return l end
  return l.content
end

local function rows(t)
  local all = {}
  for _, r in ipairs(t.head.rows) do table.insert(all, r) end
  for _, b in ipairs(t.bodies) do
    for _, r in ipairs(b.body) do table.insert(all, r) end
  end
  return all
end

-- Each column at least as wide as its longest word (troff cannot break one), the rest of the
-- line shared as the Markdown's dashes say.
function Table(t)
  local n = #t.colspecs
  local avail = 68 - 3 * (n - 1)
  local minw, dash, summin, sumdash = {}, {}, 0, 0
  for i, c in ipairs(t.colspecs) do
    minw[i] = 4
    dash[i] = (c[2] and c[2] > 0) and c[2] or 1 / n
  end
  for _, r in ipairs(rows(t)) do
    for i, cell in ipairs(r.cells) do
      for word in stringify(cell.contents):gmatch("%S+") do
        if #word + 1 > minw[i] then minw[i] = #word + 1 end
      end
    end
  end
  for i = 1, n do summin = summin + minw[i]; sumdash = sumdash + dash[i] end
  if summin > avail then summin = avail end
  for i, c in ipairs(t.colspecs) do
    local w = minw[i] + (avail - summin) * dash[i] / sumdash
    t.colspecs[i] = {c[1], w / 72}
  end
  return t
end

-- No justification and no hyphenation: code and addresses must stay as written.
function Pandoc(doc)
  table.insert(doc.blocks, 1, pandoc.RawBlock("man", ".ad l\n.nh"))
  return doc
end
