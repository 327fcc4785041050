package ui

// Owned by the repository settings area: the settings and usage logs tabs and the security
// page. (Stubs until written.)

func (u *UI) repoSettingsTab(q *request, repo *repoInfo) error { return notFound("This tab") }
func (u *UI) repoLogsTab(q *request, repo *repoInfo) error     { return notFound("This tab") }
func (u *UI) repoSecurityPage(q *request, repo *repoInfo, digest string) error {
	return notFound("This page")
}

// repoSettingsPost runs the forms of the settings tab (ops "visibility", "perm.*",
// "delete").
func (u *UI) repoSettingsPost(q *request, repo *repoInfo, op string) (bool, error) {
	return false, nil
}
