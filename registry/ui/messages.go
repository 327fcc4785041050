package ui

// Message is a global message a superuser posted, shown atop every page.
type Message struct {
	UUID     string `json:"uuid"`
	Content  string `json:"content"`
	Severity string `json:"severity"`
}

// globalMessages reads the messages to show atop the page. Owned by the settings area.
// (Stub until written.)
func (q *request) globalMessages() []Message { return nil }
