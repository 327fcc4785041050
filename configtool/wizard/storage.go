package wizard

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// maxLocations bounds the storage locations one form may hold.
const maxLocations = 100

// locRow is one storage location as the storage step edits it.
type locRow struct {
	Name, Driver string
	Params       map[string]any // the chosen driver's parameters, JSON-shaped
	Remove       bool
}

func (wz *Wizard) driver(name string) *storageDriver {
	for i := range wz.cat.drivers {
		if wz.cat.drivers[i].Name == name {
			return &wz.cat.drivers[i]
		}
	}
	return nil
}

// locationRows reads DISTRIBUTED_STORAGE_CONFIG (or its default) as rows: the locations in
// DISTRIBUTED_STORAGE_PREFERENCE's order first, then the rest by name.
func (wz *Wizard) locationRows(d map[string]any, f *field) []locRow {
	val, ok := d[f.Path]
	if !ok {
		val = f.Default
	}
	m, _ := val.(map[string]any)
	pref, ok := d["DISTRIBUTED_STORAGE_PREFERENCE"].([]any)
	if !ok {
		pref = []any{"default"}
	}
	var names []string
	seen := map[string]bool{}
	for _, p := range pref {
		if s, ok := p.(string); ok && !seen[s] {
			if _, exists := m[s]; exists {
				names = append(names, s)
				seen[s] = true
			}
		}
	}
	var rest []string
	for name := range m {
		if !seen[name] {
			rest = append(rest, name)
		}
	}
	sort.Strings(rest)
	names = append(names, rest...)
	rows := make([]locRow, 0, len(names))
	for _, name := range names {
		row := locRow{Name: name, Params: map[string]any{}}
		if pair, ok := m[name].([]any); ok {
			if len(pair) > 0 {
				row.Driver = scalarText(pair[0])
			}
			if len(pair) > 1 {
				if params, ok := pair[1].(map[string]any); ok {
					row.Params = params
				}
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// storageView shows the storage locations: a name, a driver and the driver's parameters each.
func (wz *Wizard) storageView(sess *session, f *field) *view {
	v := &view{ID: fieldID(f.Path), Name: f.Path, Path: f.Path, Label: f.Key, Kind: kindStorage, Help: f.Help, match: prefixMatch(f.Path)}
	rows := sess.locRows
	if rows == nil {
		rows = wz.locationRows(sess.doc, f)
	}
	for range sess.blankLocs {
		rows = append(rows, locRow{Driver: wz.cat.drivers[0].Name, Params: map[string]any{}})
	}
	for i, row := range rows {
		v.Children = append(v.Children, wz.locationView(f, i, row))
	}
	v.Value = strconv.Itoa(len(rows))
	return v
}

func (wz *Wizard) locationView(f *field, i int, row locRow) *view {
	id := fmt.Sprintf("loc-%d", i)
	path := f.Path + "/" + row.Name
	loc := &view{ID: id, Kind: "location", Label: "Location " + row.Name, Remove: id + "-remove", Checked: row.Remove, match: noMatch}
	if row.Name == "" {
		loc.Label = "New location"
	} else {
		loc.Path, loc.match = path, prefixMatch(path)
	}
	loc.Children = append(loc.Children,
		&view{ID: id + "-name", Name: id + "-name", Label: "Name", Plain: true, Kind: kindText, Value: row.Name, Required: true, match: noMatch,
			Help: "How DISTRIBUTED_STORAGE_PREFERENCE and DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS name this location."})
	drv := &view{ID: id + "-driver", Name: id + "-driver", Label: "Driver", Plain: true, Class: "driver", Kind: kindEnum, Path: path + "/0", match: noMatch}
	if row.Name != "" {
		drv.match = prefixMatch(path + "/0")
	}
	for _, d := range wz.cat.drivers {
		drv.Options = append(drv.Options, option{Value: d.Name, Label: d.Name, Selected: d.Name == row.Driver})
	}
	loc.Children = append(loc.Children, drv)
	for _, d := range wz.cat.drivers {
		group := &view{ID: id + "-" + d.Name, Kind: "params", Label: d.Name + " parameters", Driver: d.Name, match: noMatch}
		for _, p := range d.Params {
			var val any
			set := false
			if d.Name == row.Driver {
				val, set = row.Params[p.Key]
			}
			pv := valueView(p, val, set, nil)
			pv.ID = fmt.Sprintf("%s-%s-%s", id, d.Name, p.Key)
			pv.Name, pv.Path, pv.match = pv.ID, path+"/1/"+p.Key, noMatch
			if d.Name == row.Driver && row.Name != "" {
				pv.match = prefixMatch(pv.Path)
			}
			group.Children = append(group.Children, pv)
		}
		loc.Children = append(loc.Children, group)
	}
	return loc
}

// applyStorage reads the storage locations from the form into the document. Rows that cannot
// be applied (no name, a name used twice) leave the document as it was and are kept as typed.
func (wz *Wizard) applyStorage(sess *session, f *field, form url.Values, errs map[string]string) {
	if _, ok := form["loc-count"]; !ok {
		return
	}
	sess.blankLocs = 0 // the form holds the empty rows it showed; they are read below
	n, err := strconv.Atoi(form.Get("loc-count"))
	if err != nil || n < 0 || n > maxLocations {
		errs[fieldID(f.Path)] = fmt.Sprintf("The form lists %q storage locations; reload the page.", form.Get("loc-count"))
		return
	}
	rows := make([]locRow, 0, n)
	for i := range n {
		id := fmt.Sprintf("loc-%d", i)
		row := locRow{Name: strings.TrimSpace(form.Get(id + "-name")), Driver: form.Get(id + "-driver"), Remove: form.Get(id+"-remove") != "", Params: map[string]any{}}
		if d := wz.driver(row.Driver); d != nil {
			for _, p := range d.Params {
				name := fmt.Sprintf("%s-%s-%s", id, d.Name, p.Key)
				if _, present := form[name]; !present {
					continue
				}
				v, err := parseInput(p, form.Get(name))
				if err != nil {
					errs[name] = err.Error()
					continue
				}
				if v != nil {
					row.Params[p.Key] = v
				}
			}
		} else if !row.Remove {
			errs[id+"-driver"] = fmt.Sprintf("Unknown driver %q: choose one of the list.", row.Driver)
		}
		rows = append(rows, row)
	}
	locations := map[string]any{}
	for i, row := range rows {
		id := fmt.Sprintf("loc-%d", i)
		switch {
		case row.Remove:
			continue
		case row.Name == "" && len(row.Params) == 0:
			continue // an empty new row
		case row.Name == "":
			errs[id+"-name"] = "Give this location a name: DISTRIBUTED_STORAGE_PREFERENCE refers to locations by name."
			continue
		case strings.Contains(row.Name, "/"):
			errs[id+"-name"] = "A location name cannot contain /."
			continue
		}
		if _, dup := locations[row.Name]; dup {
			errs[id+"-name"] = fmt.Sprintf("Another location is already named %s; give each its own name.", row.Name)
			continue
		}
		locations[row.Name] = []any{row.Driver, row.Params}
	}
	for id := range errs {
		if strings.HasPrefix(id, "loc-") {
			sess.locRows = rows
			return
		}
	}
	sess.locRows = nil
	assign(sess.doc, f.Path, locations, f)
}
