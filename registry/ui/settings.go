package ui

// Owned by the settings area: the user's settings (/settings/) and the superuser panel
// (/superuser/). (Stubs until written.)

func (u *UI) settingsRoutes()  {}
func (u *UI) superuserRoutes() {}
