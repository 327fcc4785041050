package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strings"
	"time"

	"github.com/wharf-registry/wharf/scanner/report"
)

// VulnKind is the Kind of the update operations of vulnerability data.
const VulnKind = "vulnerability"

// VulnAdvisory is one advisory of the vulnerability data: what one source says about one
// vulnerability (a CVE, a DSA, a GO-... record), and which packages it affects. The store
// keeps it as rows and does not interpret Ranges.
type VulnAdvisory struct {
	// Source names the data the advisory came from ("osv", "alpine-secdb/v3.19/main"); an
	// advisory is unique by Source and ID.
	Source    string
	ID        string
	Aliases   []string
	Summary   string
	Details   string
	Links     []string
	Published time.Time // zero: unknown
	Modified  time.Time // zero: unknown
	Affected  []VulnPackage
}

// VulnPackage is one package an advisory affects.
type VulnPackage struct {
	Ecosystem string // the OSV ecosystem: "Debian:12", "Alpine:v3.19", "Go"
	Name      string
	// Severity is the source's own rating ("low", a CVSS vector); NormalizedSeverity its level.
	Severity           string
	NormalizedSeverity report.Severity
	// Ranges are the affected version ranges, as JSON the store does not read.
	Ranges json.RawMessage
	// Versions are affected versions named one by one.
	Versions []string
}

// VulnAffected is one package an advisory affects, with the advisory (whose Affected is nil).
type VulnAffected struct {
	Advisory VulnAdvisory
	Package  VulnPackage
}

// VulnImportResult counts what one ImportVulnerabilities changed.
type VulnImportResult struct {
	// Put counts the advisories handed to Put, Affected the package rows written.
	Put, Affected int
	// Added, Updated and Removed count advisories new, replaced and gone; Unchanged those put
	// as they were stored, Stale those put older (by Modified) than the stored one, which
	// stays.
	Added, Updated, Removed, Unchanged, Stale int
	// Operation is the update operation recorded; zero when the import changed nothing.
	Operation report.UpdateOperation
}

// Changed reports whether the import changed the stored data.
func (r VulnImportResult) Changed() bool { return r.Added+r.Updated+r.Removed > 0 }

// ImportVulnerabilities runs fn in one transaction with a writer of vulnerability data: what
// fn puts and removes is stored together or, when fn or the store fails, not at all. When
// something changed, or the data's fingerprint differs from the updater's last import, it
// records an update operation of updater with fingerprint (a hash of the imported data).
// Imports are serialized. fn may run more than once when the transaction must be retried.
func (s *Store) ImportVulnerabilities(ctx context.Context, updater, fingerprint string, fn func(w *VulnWriter) error) (VulnImportResult, error) {
	if updater == "" {
		return VulnImportResult{}, errors.New("import vulnerabilities: no updater name")
	}
	var res VulnImportResult
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if s.dialect == Postgres {
			// One import at a time; readers go on reading the data as it was.
			if _, err := tx.ExecContext(ctx, `LOCK TABLE vuln_advisory IN SHARE ROW EXCLUSIVE MODE`); err != nil {
				return fmt.Errorf("lock vulnerability data: %w", err)
			}
		}
		w := &VulnWriter{s: s, tx: tx, ctx: ctx, state: map[vulnKey]*vulnEntry{}, loaded: map[string]bool{},
			stmts: map[string]*sql.Stmt{}}
		defer w.close()
		if err := fn(w); err != nil {
			return err
		}
		if err := w.flush(); err != nil {
			return err
		}
		res = w.result()
		var last string
		err := tx.QueryRowContext(ctx, s.q(`SELECT fingerprint FROM vuln_update_operation WHERE updater = ? ORDER BY id DESC LIMIT 1`),
			updater).Scan(&last)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("last update operation of %s: %w", updater, err)
		}
		if !res.Changed() && last == fingerprint && err == nil {
			return nil
		}
		op := report.UpdateOperation{Ref: newRef(), Updater: updater, Fingerprint: fingerprint, Date: s.Now().UTC(), Kind: VulnKind}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO vuln_update_operation (ref, updater, fingerprint, kind, created_at) VALUES (?, ?, ?, ?, ?)`),
			op.Ref, op.Updater, op.Fingerprint, op.Kind, micros(op.Date)); err != nil {
			return fmt.Errorf("record the update operation: %w", err)
		}
		op.Date = fromMicros(micros(op.Date)).UTC()
		res.Operation = op
		return nil
	})
	if err != nil {
		return VulnImportResult{}, fmt.Errorf("import vulnerabilities (%s): %w", updater, err)
	}
	return res, nil
}

// newRef returns a random UUID (version 4) naming an update operation.
func newRef() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// VulnWriter puts and removes advisories inside ImportVulnerabilities' transaction. It
// buffers rows and writes them in batches; it is not safe for concurrent use.
type VulnWriter struct {
	s      *Store
	tx     *sql.Tx
	ctx    context.Context
	state  map[vulnKey]*vulnEntry
	loaded map[string]bool // sources whose stored advisories are in state
	stmts  map[string]*sql.Stmt

	pending          []*VulnAdvisory // to insert; nil where put again or removed since
	deletes          []int64         // advisory rows to delete before inserting
	affected         int
	put              int
	unchanged, stale int
}

type vulnKey struct{ source, id string }

// vulnEntry is what the writer knows of one advisory: as stored when the import began, and
// what the import did to it.
type vulnEntry struct {
	rowID    int64 // its row, 0 while only pending
	pending  int   // index in pending, -1 when none
	modified int64
	digest   string
	existed  bool // stored when the import began
	written  bool // the import wrote new content
	deleted  bool
	seen     bool // put (changed or not) in this import
}

// Batch sizes: rows per multi-row INSERT, ids per DELETE ... IN. Both stay well below the
// dialects' limits on bound parameters.
const (
	vulnAdvisoryBatch = 200
	vulnAffectedBatch = 400
	vulnDeleteBatch   = 500
)

// Put stores an advisory, replacing the stored one of the same source and id unless that
// one is the same or newer (by Modified).
func (w *VulnWriter) Put(a VulnAdvisory) error {
	if a.Source == "" || a.ID == "" {
		return fmt.Errorf("put advisory %q of source %q: the source and the id must not be empty", a.ID, a.Source)
	}
	if err := checkList("alias", a.Aliases); err != nil {
		return fmt.Errorf("put advisory %s: %w", a.ID, err)
	}
	if err := checkList("link", a.Links); err != nil {
		return fmt.Errorf("put advisory %s: %w", a.ID, err)
	}
	for _, p := range a.Affected {
		if p.Ecosystem == "" || p.Name == "" {
			return fmt.Errorf("put advisory %s: an affected package without ecosystem or name", a.ID)
		}
		if err := checkList("version", p.Versions); err != nil {
			return fmt.Errorf("put advisory %s: %s %s: %w", a.ID, p.Ecosystem, p.Name, err)
		}
	}
	if err := w.load(a.Source); err != nil {
		return err
	}
	w.put++
	k := vulnKey{a.Source, a.ID}
	digest := vulnDigest(&a)
	e := w.state[k]
	if e == nil {
		e = &vulnEntry{pending: -1}
		w.state[k] = e
	}
	if !e.deleted && (e.rowID != 0 || e.pending >= 0) {
		switch {
		case e.digest == digest:
			e.seen = true
			w.unchanged++
			return nil
		case e.modified > micros(a.Modified) && !a.Modified.IsZero():
			e.seen = true
			w.stale++
			return nil
		}
	}
	w.drop(e)
	e.deleted, e.written, e.seen = false, true, true
	e.modified, e.digest = micros(a.Modified), digest
	if a.Modified.IsZero() {
		e.modified = 0
	}
	e.pending = len(w.pending)
	w.pending = append(w.pending, &a)
	if len(w.pending) >= 4*vulnAdvisoryBatch {
		return w.flush()
	}
	return nil
}

// Remove deletes an advisory (a withdrawn one); removing one that is not stored does nothing.
func (w *VulnWriter) Remove(source, id string) error {
	if err := w.load(source); err != nil {
		return err
	}
	e := w.state[vulnKey{source, id}]
	if e == nil || e.deleted {
		return nil
	}
	w.drop(e)
	e.deleted, e.seen = true, true
	return nil
}

// Prune deletes the advisories of source that this import did not put: call it when the
// import holds all of the source's data (a snapshot).
func (w *VulnWriter) Prune(source string) error {
	if err := w.load(source); err != nil {
		return err
	}
	for k, e := range w.state {
		if k.source == source && !e.seen && !e.deleted {
			w.drop(e)
			e.deleted = true
		}
	}
	return nil
}

// drop forgets what is stored or pending of an entry.
func (w *VulnWriter) drop(e *vulnEntry) {
	if e.rowID != 0 {
		w.deletes = append(w.deletes, e.rowID)
		e.rowID = 0
	}
	if e.pending >= 0 {
		w.pending[e.pending] = nil
		e.pending = -1
	}
}

// load reads what is stored of a source, once per import.
func (w *VulnWriter) load(source string) error {
	if w.loaded[source] {
		return nil
	}
	rows, err := w.tx.QueryContext(w.ctx, w.s.q(`SELECT id, name, modified, digest FROM vuln_advisory WHERE source = ?`), source)
	if err != nil {
		return fmt.Errorf("read the stored advisories of %s: %w", source, err)
	}
	defer rows.Close()
	for rows.Next() {
		e := &vulnEntry{pending: -1, existed: true}
		var name string
		if err := rows.Scan(&e.rowID, &name, &e.modified, &e.digest); err != nil {
			return fmt.Errorf("read the stored advisories of %s: %w", source, err)
		}
		w.state[vulnKey{source, name}] = e
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the stored advisories of %s: %w", source, err)
	}
	w.loaded[source] = true
	return nil
}

// stmt prepares a statement once per import.
func (w *VulnWriter) stmt(query string) (*sql.Stmt, error) {
	if st := w.stmts[query]; st != nil {
		return st, nil
	}
	st, err := w.tx.PrepareContext(w.ctx, w.s.q(query))
	if err != nil {
		return nil, err
	}
	w.stmts[query] = st
	return st, nil
}

func (w *VulnWriter) close() {
	for _, st := range w.stmts {
		st.Close()
	}
}

// flush writes the buffered deletes and inserts.
func (w *VulnWriter) flush() error {
	for len(w.deletes) > 0 {
		n := min(len(w.deletes), vulnDeleteBatch)
		ids := make([]any, n)
		for i, id := range w.deletes[:n] {
			ids[i] = id
		}
		in := "(" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
		for _, q := range []string{`DELETE FROM vuln_affected WHERE advisory_id IN ` + in, `DELETE FROM vuln_advisory WHERE id IN ` + in} {
			st, err := w.stmt(q)
			if err != nil {
				return fmt.Errorf("delete advisories: %w", err)
			}
			if _, err := st.ExecContext(w.ctx, ids...); err != nil {
				return fmt.Errorf("delete advisories: %w", err)
			}
		}
		w.deletes = w.deletes[n:]
	}
	var batch []*VulnAdvisory
	for _, a := range w.pending {
		if a == nil {
			continue
		}
		batch = append(batch, a)
		if len(batch) == vulnAdvisoryBatch {
			if err := w.insert(batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		if err := w.insert(batch); err != nil {
			return err
		}
	}
	w.pending = w.pending[:0]
	return nil
}

// insert writes a batch of advisories and their packages.
func (w *VulnWriter) insert(batch []*VulnAdvisory) error {
	const cols = 9
	st, err := w.stmt(`INSERT INTO vuln_advisory (source, name, aliases, summary, details, links, published, modified, digest) VALUES ` +
		rowsOf(len(batch), cols) + ` RETURNING id, source, name`)
	if err != nil {
		return fmt.Errorf("insert advisories: %w", err)
	}
	args := make([]any, 0, len(batch)*cols)
	for _, a := range batch {
		e := w.state[vulnKey{a.Source, a.ID}]
		args = append(args, a.Source, a.ID, joinList(a.Aliases), a.Summary, a.Details, joinList(a.Links),
			zeroMicros(a.Published), zeroMicros(a.Modified), e.digest)
	}
	rows, err := st.QueryContext(w.ctx, args...)
	if err != nil {
		return fmt.Errorf("insert advisories: %w", err)
	}
	ids := make(map[vulnKey]int64, len(batch))
	for rows.Next() {
		var id int64
		var k vulnKey
		if err := rows.Scan(&id, &k.source, &k.id); err != nil {
			rows.Close()
			return fmt.Errorf("insert advisories: %w", err)
		}
		ids[k] = id
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("insert advisories: %w", err)
	}
	const pcols = 10
	var pargs []any
	n := 0
	writeRows := func() error {
		if n == 0 {
			return nil
		}
		st, err := w.stmt(`INSERT INTO vuln_affected (advisory_id, seq, source, advisory, ecosystem, package, severity, normalized_severity, ranges, versions) VALUES ` +
			rowsOf(n, pcols))
		if err != nil {
			return fmt.Errorf("insert affected packages: %w", err)
		}
		if _, err := st.ExecContext(w.ctx, pargs...); err != nil {
			return fmt.Errorf("insert affected packages: %w", err)
		}
		w.affected += n
		pargs, n = pargs[:0], 0
		return nil
	}
	for _, a := range batch {
		k := vulnKey{a.Source, a.ID}
		id, ok := ids[k]
		if !ok {
			return fmt.Errorf("insert advisories: no id returned for %s of %s", a.ID, a.Source)
		}
		w.state[k].rowID, w.state[k].pending = id, -1
		for seq, p := range a.Affected {
			ranges := string(p.Ranges)
			if ranges == "" {
				ranges = "[]"
			}
			pargs = append(pargs, id, seq, a.Source, a.ID, p.Ecosystem, p.Name, p.Severity, p.NormalizedSeverity.String(), ranges, joinList(p.Versions))
			if n++; n == vulnAffectedBatch {
				if err := writeRows(); err != nil {
					return err
				}
			}
		}
	}
	return writeRows()
}

// result counts what the import did.
func (w *VulnWriter) result() VulnImportResult {
	r := VulnImportResult{Put: w.put, Affected: w.affected, Unchanged: w.unchanged, Stale: w.stale}
	for _, e := range w.state {
		switch {
		case e.existed && e.deleted:
			r.Removed++
		case e.existed && e.written:
			r.Updated++
		case !e.existed && e.written && !e.deleted:
			r.Added++
		}
	}
	return r
}

// rowsOf returns n rows of cols placeholders for a multi-row VALUES.
func rowsOf(n, cols int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// joinList stores a list as lines (cheaper to read back than JSON: the matcher reads
// thousands of rows per image). Put refuses items with line breaks.
func joinList(v []string) string { return strings.Join(v, "\n") }

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// checkList refuses a list that joinList could not store.
func checkList(what string, v []string) error {
	for _, item := range v {
		if item == "" || strings.ContainsAny(item, "\r\n") {
			return fmt.Errorf("%s %q: empty or with a line break", what, item)
		}
	}
	return nil
}

func zeroMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return micros(t)
}

func zeroFromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return fromMicros(us).UTC()
}

// vulnDigest hashes everything stored of an advisory.
func vulnDigest(a *VulnAdvisory) string {
	h := sha256.New()
	str := func(s string) { writeLen(h, len(s)); h.Write([]byte(s)) }
	list := func(l []string) {
		writeLen(h, len(l))
		for _, s := range l {
			str(s)
		}
	}
	str(a.Summary)
	str(a.Details)
	list(a.Aliases)
	list(a.Links)
	writeLen(h, int(zeroMicros(a.Published)))
	writeLen(h, int(zeroMicros(a.Modified)))
	writeLen(h, len(a.Affected))
	for _, p := range a.Affected {
		str(p.Ecosystem)
		str(p.Name)
		str(p.Severity)
		str(p.NormalizedSeverity.String())
		str(string(p.Ranges))
		list(p.Versions)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func writeLen(h hash.Hash, n int) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(n))
	h.Write(b[:])
}

// AffectedPackages returns every advisory's entry for a package of an ecosystem, ordered by
// advisory id and source.
func (s *Store) AffectedPackages(ctx context.Context, ecosystem, name string) ([]VulnAffected, error) {
	return list(ctx, s, "advisories of "+ecosystem+" package "+name, scanVulnAffected,
		`SELECT a.source, a.name, a.aliases, a.summary, a.details, a.links, a.published, a.modified,
			f.ecosystem, f.package, f.severity, f.normalized_severity, f.ranges, f.versions
		FROM vuln_affected f JOIN vuln_advisory a ON a.id = f.advisory_id
		WHERE f.ecosystem = ? AND f.package = ? ORDER BY a.name, a.source`, ecosystem, name)
}

// AffectedPackagesBrief returns every advisory's entry for packages of an ecosystem, like
// AffectedPackages for each name, ordered by package, advisory id and source, but with only
// the advisories' source and id: a package has hundreds of entries, few of which hold its
// version, and the rest of the advisories is most of what there is to read. VulnAdvisories
// fetches it for those few.
func (s *Store) AffectedPackagesBrief(ctx context.Context, ecosystem string, names []string) ([]VulnAffected, error) {
	var out []VulnAffected
	for len(names) > 0 {
		n := min(len(names), vulnDeleteBatch)
		size := paddedSize(n)
		args := make([]any, 0, 1+size)
		args = append(args, ecosystem)
		for i := range size {
			args = append(args, names[min(i, n-1)])
		}
		rows, err := list(ctx, s, "advisories of "+ecosystem+" packages", scanVulnAffectedBrief,
			`SELECT source, advisory, ecosystem, package, severity, normalized_severity, ranges, versions
			FROM vuln_affected WHERE ecosystem = ? AND package IN (`+strings.TrimSuffix(strings.Repeat("?, ", size), ", ")+`)
			ORDER BY package, advisory, source`, args...)
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
		names = names[n:]
	}
	return out, nil
}

// paddedSize is the batch size a query of n values is padded to (with repeats of the last
// value), so that few statement shapes are prepared.
func paddedSize(n int) int {
	for _, b := range []int{8, 32, 128} {
		if n <= b {
			return b
		}
	}
	return vulnDeleteBatch
}

// VulnAdvisoryKey names an advisory.
type VulnAdvisoryKey struct{ Source, ID string }

// VulnAdvisories returns the advisories named (without their Affected), by key; advisories
// not stored are left out.
func (s *Store) VulnAdvisories(ctx context.Context, keys []VulnAdvisoryKey) (map[VulnAdvisoryKey]VulnAdvisory, error) {
	out := make(map[VulnAdvisoryKey]VulnAdvisory, len(keys))
	for len(keys) > 0 {
		n := min(len(keys), vulnDeleteBatch)
		size := paddedSize(n)
		args := make([]any, 0, 2*size)
		for i := range size {
			k := keys[min(i, n-1)]
			args = append(args, k.Source, k.ID)
		}
		rows, err := list(ctx, s, "advisories", scanVulnAdvisory,
			`SELECT source, name, aliases, summary, details, links, published, modified FROM vuln_advisory
			WHERE (source, name) IN (`+rowsOf(size, 2)+`)`, args...)
		if err != nil {
			return nil, err
		}
		for _, a := range rows {
			out[VulnAdvisoryKey{a.Source, a.ID}] = a
		}
		keys = keys[n:]
	}
	return out, nil
}

func scanVulnAdvisory(row scanner) (VulnAdvisory, error) {
	var a VulnAdvisory
	var aliases, links string
	var published, modified int64
	if err := row.Scan(&a.Source, &a.ID, &aliases, &a.Summary, &a.Details, &links, &published, &modified); err != nil {
		return a, err
	}
	a.Published, a.Modified = zeroFromMicros(published), zeroFromMicros(modified)
	a.Aliases, a.Links = splitList(aliases), splitList(links)
	return a, nil
}

func scanVulnAffectedBrief(row scanner) (VulnAffected, error) {
	var v VulnAffected
	var sev, ranges, versions string
	a, p := &v.Advisory, &v.Package
	if err := row.Scan(&a.Source, &a.ID, &p.Ecosystem, &p.Name, &p.Severity, &sev, &ranges, &versions); err != nil {
		return v, err
	}
	p.NormalizedSeverity, _ = report.ParseSeverity(sev)
	p.Ranges, p.Versions = json.RawMessage(ranges), splitList(versions)
	return v, nil
}

func scanVulnAffected(row scanner) (VulnAffected, error) {
	var v VulnAffected
	var aliases, links, sev, ranges, versions string
	var published, modified int64
	a, p := &v.Advisory, &v.Package
	if err := row.Scan(&a.Source, &a.ID, &aliases, &a.Summary, &a.Details, &links, &published, &modified,
		&p.Ecosystem, &p.Name, &p.Severity, &sev, &ranges, &versions); err != nil {
		return v, err
	}
	a.Published, a.Modified = zeroFromMicros(published), zeroFromMicros(modified)
	p.NormalizedSeverity, _ = report.ParseSeverity(sev)
	p.Ranges = json.RawMessage(ranges)
	a.Aliases, a.Links, p.Versions = splitList(aliases), splitList(links), splitList(versions)
	return v, nil
}

// Advisory returns one stored advisory with its affected packages, or ErrNotFound.
func (s *Store) Advisory(ctx context.Context, source, id string) (VulnAdvisory, error) {
	rows, err := list(ctx, s, "advisory "+id, scanVulnAffected,
		`SELECT a.source, a.name, a.aliases, a.summary, a.details, a.links, a.published, a.modified,
			COALESCE(f.ecosystem, ''), COALESCE(f.package, ''), COALESCE(f.severity, ''), COALESCE(f.normalized_severity, ''),
			COALESCE(f.ranges, ''), COALESCE(f.versions, '')
		FROM vuln_advisory a LEFT JOIN vuln_affected f ON f.advisory_id = a.id
		WHERE a.source = ? AND a.name = ? ORDER BY f.ecosystem, f.package`, source, id)
	if err != nil {
		return VulnAdvisory{}, err
	}
	if len(rows) == 0 {
		return VulnAdvisory{}, fmt.Errorf("advisory %s of %s: %w", id, source, ErrNotFound)
	}
	a := rows[0].Advisory
	for _, r := range rows {
		if r.Package.Ecosystem != "" {
			a.Affected = append(a.Affected, r.Package)
		}
	}
	return a, nil
}

// UpdateOperations returns the latest update operation of each updater, newest first.
func (s *Store) UpdateOperations(ctx context.Context) ([]report.UpdateOperation, error) {
	return list(ctx, s, "update operations", scanUpdateOperation,
		`SELECT ref, updater, fingerprint, kind, created_at FROM vuln_update_operation o
		WHERE id = (SELECT MAX(id) FROM vuln_update_operation l WHERE l.updater = o.updater) ORDER BY id DESC`)
}

func scanUpdateOperation(row scanner) (report.UpdateOperation, error) {
	var op report.UpdateOperation
	var at int64
	err := row.Scan(&op.Ref, &op.Updater, &op.Fingerprint, &op.Kind, &at)
	op.Date = fromMicros(at).UTC()
	return op, err
}

// VulnDBRef returns a token naming the current vulnerability data: the ref of the latest
// update operation, "" before the first import. It changes with every import that changes
// the data.
func (s *Store) VulnDBRef(ctx context.Context) (string, error) {
	var ref string
	err := s.queryRow(ctx, `SELECT ref FROM vuln_update_operation ORDER BY id DESC LIMIT 1`).Scan(&ref)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("latest update operation: %w", err)
	}
	return ref, nil
}

// VulnerabilityCount returns how many advisories are stored.
func (s *Store) VulnerabilityCount(ctx context.Context) (int, error) {
	var n int
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM vuln_advisory`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count advisories: %w", err)
	}
	return n, nil
}
