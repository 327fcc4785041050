package ui

// Owned by the repositories area: the list, creation, and the information, tags and
// history tabs. (Stubs until written.)

func (u *UI) repoList(q *request) error    { return notFound("This page") }
func (u *UI) repoNewPage(q *request) error { return notFound("This page") }
func (u *UI) repoCreate(q *request) error  { return notFound("This page") }

func (u *UI) repoInfoTab(q *request, repo *repoInfo) error    { return notFound("This tab") }
func (u *UI) repoTagsTab(q *request, repo *repoInfo) error    { return notFound("This tab") }
func (u *UI) repoHistoryTab(q *request, repo *repoInfo) error { return notFound("This tab") }

// repoContentPost runs the forms of the information, tags and history tabs (ops
// "description", "tag.*", "label.*", "star", "unstar").
func (u *UI) repoContentPost(q *request, repo *repoInfo, op string) (bool, error) {
	return false, nil
}
