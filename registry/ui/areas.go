package ui

// areas lists the route registrations of the UI's areas, one per file.
func (u *UI) areas() []func() {
	return []func(){u.repoRoutes, u.orgRoutes, u.settingsRoutes, u.superuserRoutes}
}
