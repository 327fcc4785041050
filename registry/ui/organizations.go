package ui

// Owned by the organizations area: organizations, members, teams, robots (also the user's
// own, shown in settings), default permissions, OAuth applications and organization logs.
// (Stubs until written.)

func (u *UI) orgRoutes() {}

// RobotsView is the robots of a namespace, as the robots partial ("robots" in
// _robots.html) shows them.
type RobotsView struct {
	// Owner is the organization or user; Base is the page (path and tab) the forms come
	// back to.
	Owner, Base string
}

// robotsView reads the robots of an organization (org true) or of the signed-in user.
func (q *request) robotsView(owner string, org bool, base string) (*RobotsView, error) {
	return &RobotsView{Owner: owner, Base: base}, nil
}

// robotPost runs a robots form (ops "robot.*") for the organization owner (org true) or
// the signed-in user, then goes back to base.
func (q *request) robotPost(owner string, org bool, base, op string) (bool, error) {
	return false, nil
}
